/** Entry: sign in, the page shell, and a hash router (#/ home, #/jobs/<uuid> a job). */
import { announce, button, field, h, onSignIn, replace } from "./dom";
import type { ViewRefresh } from "./home";
import { renderBoard, renderBreaches, renderHome } from "./home";
import { liveJobUpdate, renderJob, showViewers } from "./job";
import { renderNewJob } from "./lifecycle";
import { Session } from "./session";
import { readHash } from "./view-state";

const app = document.getElementById("app");
let session = Session.restore();

function signInView(message?: string) {
  const input = h("input", { type: "password", name: "token", autocomplete: "off", spellcheck: "false", required: true });
  const status = h("p", { class: "status", role: "status" }, message ?? "");
  if (message) status.classList.add("error");
  const form = h(
    "form",
    { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in to PropOps"),
    h("p", {}, "Paste your API token. It stays in this browser tab only and is forgotten when you sign out or close the tab."),
    field("API token", input, "Ask an administrator, or run npm run --silent token -- --role manager locally."),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
    status,
  );
  onSignIn(form, input, status, async (token) => {
    session = await Session.signIn(token);
    // The view the URL names (a shared link opened before signing in) is the one drawn.
    void route();
  });
  return form;
}

function shell(current: Session, main: HTMLElement) {
  // Offered to the managing side only: a contractor proposes changes on their own jobs instead.
  const newJob = h("a", { href: "#/new", hidden: true }, "New job");
  void current.sideOf().then((side) => {
    newJob.hidden = side === "contractor";
  });
  const signOut = button("Sign out", () => {
    current.signOut();
    session = undefined;
    location.hash = "#/";
    route();
    announce("Signed out");
  });
  return [
    h(
      "header",
      { class: "topbar" },
      h("a", { href: "#/", class: "brand" }, "PropOps"),
      h(
        "nav",
        { "aria-label": "Main" },
        h("a", { href: "#/" }, "Dashboard"),
        h("a", { href: "#/board" }, "Board"),
        newJob,
        h("a", { href: "./field/" }, "Field mode"),
        liveBadge(current),
        signOut,
      ),
    ),
    main,
  ];
}

/** "Live" in the top bar while the event stream is connected; nothing when the API has none. */
function liveBadge(current: Session) {
  const el = h("span", { class: "live-state", "data-testid": "live-state" });
  listening.push(
    current.live.onState((state) => {
      el.textContent =
        state === "live" ? "● Live" : state === "polling" ? "● Live (polling)" : state === "connecting" ? "Reconnecting…" : "";
      el.hidden = el.textContent === "";
    }),
  );
  return el;
}

/** What the view on screen listens to (dropped when the next view is drawn). */
let listening: (() => void)[] = [];

/** Redraws a list view's parts after live events, at most once per 400 ms burst. */
function refreshOnEvents(current: Session, refresh: ViewRefresh) {
  let timer = 0;
  listening.push(
    current.live.onEvent(() => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => {
        for (const f of [refresh.jobs, refresh.pinned, refresh.sla]) void f?.();
      }, 400);
    }),
  );
}

async function route() {
  if (!app) return;
  const main = h("main", { id: "main", tabindex: "-1" });
  if (!session) {
    replace(app, h("main", { id: "main", tabindex: "-1" }, signInView()));
    document.title = "Sign in · PropOps";
    return;
  }
  const current = session;
  current.api.releaseBlobs();
  current.api.onUnauthorized = (msg) => {
    current.signOut();
    session = undefined;
    replace(app, h("main", { id: "main", tabindex: "-1" }, signInView(`Signed out: the API rejected the token (${msg}).`)));
  };
  for (const stop of listening) stop();
  listening = [];
  replace(app, ...shell(current, main));
  current.live.start();
  // Typing on a job page marks it: a live change then asks before redrawing (job.ts).
  main.addEventListener("input", () => {
    main.dataset.dirty = "1";
  });
  const job = /^#\/jobs\/([0-9a-f-]{36})$/i.exec(location.hash);
  const [path, state] = readHash();
  const uuid = job?.[1];
  current.live.viewing(uuid ?? null);
  if (uuid) {
    listening.push(
      current.live.onEvent((e) => {
        if (e.kind === "reset" || e.job_uuid === uuid) void liveJobUpdate(current, main, uuid, e);
      }),
      current.live.onPresence((p) => {
        const el = main.querySelector('[data-testid="viewers"]');
        if (p.job_uuid === uuid && el) showViewers(current, el, p);
      }),
    );
    await renderJob(current, main, uuid);
  } else if (path === "/board") refreshOnEvents(current, await renderBoard(current, main, state));
  else if (path === "/breaches") refreshOnEvents(current, await renderBreaches(current, main));
  else if (path === "/new") await renderNewJob(current, main);
  else refreshOnEvents(current, await renderHome(current, main, state));
  // Move focus to the new view's heading so keyboard and screen-reader users start at the top.
  const heading = main.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }
}

window.addEventListener("hashchange", () => void route());
void route();
