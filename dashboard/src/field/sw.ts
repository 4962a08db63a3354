/**
 * The field mode's service worker: the app shell (page, script, styles, manifest, icon) cached at
 * install, so the page opens with no signal; a shell request is answered from the cache at once
 * and refreshed from the network behind it. API requests are never cached here (the answers are
 * private; the page keeps what it needs in IndexedDB and clears it at sign-out): they go to the
 * network untouched. A new build (SHELL_VERSION) installs a new cache and drops the old ones.
 */

// The worker's globals, declared here: the dashboard compiles against the DOM library.
interface ExtendableEvent extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  request: Request;
  respondWith(r: Response | Promise<Response>): void;
}
interface WorkerScope {
  addEventListener(type: "install" | "activate", fn: (e: ExtendableEvent) => void): void;
  addEventListener(type: "fetch", fn: (e: FetchEvent) => void): void;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
  registration: { scope: string };
}
declare const SHELL_VERSION: string;
const worker = self as unknown as WorkerScope;

const CACHE = `propops-field-${SHELL_VERSION}`;
const SHELL = ["./", "./field.js", "./field.css", "./manifest.webmanifest", "./icon.svg"];
const scope = new URL(worker.registration.scope);
const shellUrls = new Set(SHELL.map((p) => new URL(p, scope).href));

worker.addEventListener("install", (e) => {
  e.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll(SHELL))
      .then(() => worker.skipWaiting()),
  );
});

worker.addEventListener("activate", (e) => {
  e.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("propops-field-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => worker.clients.claim()),
  );
});

worker.addEventListener("fetch", (e) => {
  const req = e.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== scope.origin || url.pathname.startsWith("/api/")) return;
  // Any page under the scope is the one-page app (its routes live in the hash).
  const key = req.mode === "navigate" ? new URL("./", scope).href : (url.href.split("#")[0] ?? url.href);
  if (!shellUrls.has(key)) return;
  e.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const cached = await cache.match(key);
      const fresh = fetch(req.mode === "navigate" ? key : req)
        .then((res) => {
          if (res.ok) void cache.put(key, res.clone());
          return res;
        })
        .catch(() => undefined);
      if (cached) {
        e.waitUntil(fresh);
        return cached;
      }
      return (await fresh) ?? new Response("Offline, and this page is not on the phone yet", { status: 503 });
    }),
  );
});
