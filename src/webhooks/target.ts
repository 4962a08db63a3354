/**
 * Webhook target safety. Production (WEBHOOKS_ALLOW_LOOPBACK = "false") takes only https URLs whose
 * host is a public address or a public name; names are resolved through DNS-over-HTTPS (1.1.1.1,
 * since a Worker cannot resolve DNS itself) at delivery time and every answer must be public.
 * WEBHOOKS_ALLOW_LOOPBACK = "true" (dev and tests only) also allows http and https to loopback
 * (127.0.0.0/8, ::1, localhost) and skips the DNS lookup; private and link-local stay refused.
 * Checked when a subscription is created or updated and again before every delivery.
 */

export type TargetCheck = { ok: true; url: URL; host: HostKind } | { ok: false; reason: string };
type HostKind = "loopback" | "public-ip" | "name";

// String(): the generated Env types the var as its wrangler.toml value ("false"); dev and tests override it.
export const allowsLoopback = (env: Pick<Env, "WEBHOOKS_ALLOW_LOOPBACK">) => String(env.WEBHOOKS_ALLOW_LOOPBACK) === "true";

const BLOCKED_SUFFIXES = [".localhost", ".local", ".internal", ".intranet", ".lan", ".home.arpa", ".corp", ".localdomain"];

/** The URL's shape and, for literal addresses, the address itself (no network). */
export function checkTargetUrl(raw: string, allowLoopback: boolean): TargetCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "must be an absolute URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { ok: false, reason: "must be an https URL" };
  if (url.username || url.password) return { ok: false, reason: "must not carry credentials" };
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  const kind = classifyHost(host);
  if (kind === "loopback") {
    if (!allowLoopback) return { ok: false, reason: "must not point at a loopback address" };
    return { ok: true, url, host: "loopback" };
  }
  if (kind === "private") return { ok: false, reason: "must not point at a private, link-local or reserved address" };
  if (kind === "bad-name") return { ok: false, reason: "must name a public host" };
  if (url.protocol !== "https:") return { ok: false, reason: "must be an https URL" };
  return { ok: true, url, host: kind };
}

type Classified = "loopback" | "private" | "public-ip" | "name" | "bad-name";

function classifyHost(host: string): Classified {
  if (host.startsWith("[") && host.endsWith("]")) {
    const bytes = parseIpv6(host.slice(1, -1));
    return bytes ? classifyIpv6(bytes) : "bad-name";
  }
  const v4 = parseIpv4(host);
  if (v4) return classifyIpv4(v4);
  if (host === "localhost" || host.endsWith(".localhost")) return "loopback";
  // Single labels (intranet names) and reserved suffixes never reach a public host.
  if (!host.includes(".") || BLOCKED_SUFFIXES.some((s) => host.endsWith(s))) return "bad-name";
  if (!/^[a-z0-9.-]+$/.test(host)) return "bad-name";
  return "name";
}

/** Classifies a resolved address (DNS answer); names never reach this. */
export function classifyAddress(ip: string): "loopback" | "private" | "public-ip" | "invalid" {
  const v4 = parseIpv4(ip);
  if (v4) return classifyIpv4(v4);
  const v6 = parseIpv6(ip);
  return v6 ? classifyIpv6(v6) : "invalid";
}

function parseIpv4(s: string): number[] | undefined {
  // The URL parser has already turned 2130706433, 0x7f.1 and friends into dotted quads.
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : undefined;
}

function classifyIpv4([a = 0, b = 0, c = 0]: number[]): "loopback" | "private" | "public-ip" {
  if (a === 127) return "loopback";
  const reserved =
    a === 0 ||
    a === 10 ||
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) || // link-local (cloud metadata)
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 0 && (c === 0 || c === 2)) ||
    (a === 192 && b === 88 && c === 99) ||
    (a === 192 && b === 168) ||
    (a === 198 && (b === 18 || b === 19)) ||
    (a === 198 && b === 51 && c === 100) ||
    (a === 203 && b === 0 && c === 113) ||
    a >= 224; // multicast, reserved, broadcast
  return reserved ? "private" : "public-ip";
}

function parseIpv6(s: string): number[] | undefined {
  let text = s.toLowerCase();
  if (text.includes("%")) return undefined; // zone ids: link-local by definition
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    // A trailing dotted quad (::ffff:1.2.3.4) becomes its two hex groups.
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (!v4) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = v4;
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string | undefined) => (part ? part.split(":") : []);
  const head = groups(halves[0]);
  const rest = groups(halves[1]);
  if ([...head, ...rest].some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined;
  const count = head.length + rest.length;
  if (halves.length === 1 ? count !== 8 : count > 7) return undefined;
  const words = [...head, ...new Array<string>(8 - count).fill("0"), ...rest].map((g) => Number.parseInt(g, 16));
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

function classifyIpv6(b: number[]): "loopback" | "private" | "public-ip" {
  const at = (i: number) => b[i] ?? 0;
  const zeroUpTo = (n: number) => b.slice(0, n).every((x) => x === 0);
  const embeddedV4 = () => classifyIpv4([at(12), at(13), at(14), at(15)]);
  if (zeroUpTo(15) && at(15) === 1) return "loopback"; // ::1
  if (zeroUpTo(16)) return "private"; // ::
  if (zeroUpTo(10) && at(10) === 0xff && at(11) === 0xff) return embeddedV4(); // ::ffff:a.b.c.d (IPv4-mapped)
  if (zeroUpTo(12)) return embeddedV4(); // ::a.b.c.d (IPv4-compatible, deprecated)
  if (at(0) === 0x00 && at(1) === 0x64 && at(2) === 0xff && at(3) === 0x9b) {
    const v4 = embeddedV4(); // 64:ff9b::/96 NAT64
    return v4 === "public-ip" ? "public-ip" : "private";
  }
  if (at(0) === 0x20 && at(1) === 0x02) {
    const v4 = classifyIpv4([at(2), at(3), at(4), at(5)]); // 2002::/16 6to4
    return v4 === "public-ip" ? "public-ip" : "private";
  }
  if ((at(0) & 0xe0) !== 0x20) return "private"; // outside 2000::/3 global unicast: ULA fc00::/7, fe80::/10, ff00::/8, …
  if (at(0) === 0x20 && at(1) === 0x01 && at(2) === 0x0d && at(3) === 0xb8) return "private"; // 2001:db8::/32 documentation
  if (at(0) === 0x20 && at(1) === 0x01 && at(2) === 0x00 && at(3) === 0x00) return "private"; // 2001::/32 Teredo
  return "public-ip";
}

/**
 * Production only: resolves a host name through DNS-over-HTTPS (1.1.1.1) and refuses it if any A or
 * AAAA answer is not public, or if it has none. Never called when loopback is allowed (dev, tests).
 * Throws on a DoH failure (a retry will try again).
 */
export async function checkResolvedHost(
  host: string,
  fetcher: typeof fetch = fetch,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const answers: string[] = [];
  for (const type of ["A", "AAAA"] as const) {
    const res = await fetcher(`https://1.1.1.1/dns-query?name=${encodeURIComponent(host)}&type=${type}`, {
      headers: { accept: "application/dns-json" },
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) throw new Error(`DNS-over-HTTPS lookup failed: HTTP ${res.status}`);
    const body = (await res.json()) as { Answer?: { type: number; data: string }[] };
    for (const a of body.Answer ?? []) if (a.type === 1 || a.type === 28) answers.push(a.data);
  }
  if (answers.length === 0) return { ok: false, reason: `${host} does not resolve to an address` };
  const bad = answers.find((ip) => classifyAddress(ip) !== "public-ip");
  return bad ? { ok: false, reason: `${host} resolves to a non-public address (${bad})` } : { ok: true };
}

/** The full check before a delivery: the URL, then (production) the name's DNS answers. */
export async function checkTargetForDelivery(
  env: Pick<Env, "WEBHOOKS_ALLOW_LOOPBACK">,
  raw: string,
  fetcher: typeof fetch = fetch,
): Promise<{ ok: true; url: URL } | { ok: false; reason: string }> {
  const allow = allowsLoopback(env);
  const check = checkTargetUrl(raw, allow);
  if (!check.ok) return check;
  if (check.host === "name" && !allow) {
    const resolved = await checkResolvedHost(check.url.hostname, fetcher);
    if (!resolved.ok) return resolved;
  }
  return { ok: true, url: check.url };
}
