/**
 * Entry of the contractor's field mode (/app/field/, an installable PWA beside the manager's
 * dashboard at /app/): sign in once on the phone, the jobs and queued work from the phone's store,
 * a sync status bar, and a hash router (#/ the jobs, #/jobs/<uuid> a job). The service worker
 * (sw.ts) keeps the app shell, so the page opens with no signal.
 */
import { announce, button, describeError, field, h, onSignIn, replace } from "../dom";
import { FieldApi, FieldError } from "./net";
import { store } from "./store";
import { Sync } from "./sync";
import { type Ctx, renderJob, renderList } from "./views";

const app = document.getElementById("app");
let sync: Sync | undefined;

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("./sw.js", { scope: "./" }).catch((err) => console.warn("service worker not installed", err));
}

function signInView(message?: string) {
  const input = h("input", { type: "password", name: "token", autocomplete: "off", spellcheck: "false", required: true });
  const status = h("p", { class: message ? "status error" : "status", role: "status" }, message ?? "");
  const form = h(
    "form",
    { class: "f-card f-signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "PropOps field sign-in"),
    h(
      "p",
      {},
      "For contractors on site. Paste your API token: it is kept on this phone, with the jobs you open and the work you record offline, until you sign out.",
    ),
    field("API token", input),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
    status,
  );
  onSignIn(form, input, status, async (token) => {
    const api = new FieldApi(token);
    await api.get("/api/security/csrf-token");
    await store.setToken(api.token);
    start(api);
    await sync?.refreshJobs();
    void route();
  });
  return form;
}

function start(api: FieldApi) {
  api.onUnauthorized = (msg) => {
    // The token is gone; the queue stays for the next sign-in to send.
    void store.forgetToken();
    sync = undefined;
    if (app)
      replace(
        app,
        h("main", { id: "main", tabindex: "-1" }, signInView(`Signed out: the API rejected the token (${msg}). Queued work is kept.`)),
      );
  };
  sync = new Sync(api);
  sync.onChange(() => drawBar());
}

const bar = h("div", { class: "f-bar", role: "status", "aria-live": "polite", "data-testid": "sync" });

async function drawBar() {
  if (!sync) return;
  const queued = (await store.queue()).length;
  const state = sync.state;
  // navigator.onLine can say "online" with no route out (a basement, a captive portal): a request that got no answer says otherwise.
  const online = navigator.onLine && state.phase !== "offline";
  bar.className = `f-bar ${online ? "on" : "off"}`;
  replace(
    bar,
    h("strong", {}, online ? "Online" : "Offline"),
    ` · ${queued ? `${queued} waiting to send` : "all sent"}`,
    state.message ? h("span", { class: "f-bar-msg" }, ` · ${state.message}`) : null,
  );
}

let current = location.hash;
let unsubscribe: (() => void) | undefined;
async function route() {
  if (!app) return;
  if (!sync) {
    const token = await store.token();
    if (token) start(new FieldApi(token));
  }
  if (!sync) {
    replace(app, h("main", { id: "main", tabindex: "-1" }, signInView()));
    document.title = "Sign in · PropOps field";
    return;
  }
  const active = sync;
  const main = h("main", { id: "main", tabindex: "-1" });
  const signOut = button("Sign out", async () => {
    const left = (await store.queue()).length;
    if (
      left &&
      !confirm(`${left} recorded item${left === 1 ? " has" : "s have"} not reached the office and will be deleted. Sign out anyway?`)
    )
      return;
    sync = undefined;
    await store.wipe();
    location.hash = "#/";
    void route();
    announce("Signed out; nothing of yours is left on this phone");
  });
  replace(app, h("header", { class: "f-top" }, h("a", { href: "#/", class: "f-brand" }, "PropOps field"), signOut), bar, main);
  const ctx: Ctx = { sync: active, redraw: () => void draw(ctx, main, false) };
  // A finished send changes what the screen shows (the queue, the job's status): draw it again.
  unsubscribe?.();
  unsubscribe = active.onChange(() => {
    if (active.state.phase === "idle" || active.state.phase === "waiting") ctx.redraw();
  });
  await draw(ctx, main, true);
  void drawBar();
  // Send what is queued, then read the jobs again, and redraw with what the API said.
  if (navigator.onLine) {
    void (async () => {
      await active.flush();
      await active.refreshJobs().catch((err) => {
        if (!(err instanceof FieldError && err.transient)) announce(describeError(err, "load your jobs"));
      });
      if (sync === active && location.hash === current) await draw(ctx, main, false);
      void drawBar();
    })();
  }
}

/** Draws the screen for the hash; focus moves to the heading only on navigation, never on a background redraw. */
async function draw(ctx: Ctx, main: HTMLElement, focus: boolean) {
  const typing = document.activeElement instanceof HTMLTextAreaElement && document.activeElement.value !== "";
  if (!focus && typing) return;
  const job = /^#\/jobs\/([0-9a-f-]{36})$/i.exec(location.hash);
  if (job?.[1]) await renderJob(ctx, main, job[1]);
  else await renderList(ctx, main);
  void drawBar();
  const heading = main.querySelector("h1");
  if (focus && heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }
}

window.addEventListener("hashchange", () => {
  current = location.hash;
  void route();
});
window.addEventListener("online", () => void drawBar());
window.addEventListener("offline", () => void drawBar());
void route();
