/** Entry: sign in, the page shell, and a hash router (#/ home, #/jobs/<uuid> a job). */
import { announce, button, describeError, field, h, replace } from "./dom";
import { renderHome } from "./home";
import { renderJob } from "./job";
import { Session } from "./session";

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
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    status.className = "status";
    status.textContent = "Checking the token…";
    try {
      session = await Session.signIn(input.value);
      input.value = "";
      if (location.hash !== "#/") location.hash = "#/";
      else route();
    } catch (err) {
      status.className = "status error";
      status.textContent = describeError(err, "sign in");
      input.focus();
    }
  });
  return form;
}

function shell(current: Session, main: HTMLElement) {
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
      h("nav", { "aria-label": "Main" }, h("a", { href: "#/" }, "Dashboard"), h("a", { href: "./field/" }, "Field mode"), signOut),
    ),
    main,
  ];
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
  replace(app, ...shell(current, main));
  const job = /^#\/jobs\/([0-9a-f-]{36})$/i.exec(location.hash);
  if (job?.[1]) await renderJob(current, main, job[1]);
  else await renderHome(current, main);
  // Move focus to the new view's heading so keyboard and screen-reader users start at the top.
  const heading = main.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }
}

window.addEventListener("hashchange", () => void route());
void route();
