/**
 * The quality an Accept header gives a media type (RFC 9110 §12.5.1): the most specific range
 * that matches it (`type/subtype`, then `type/*`, then `*\/*`); 0 when none does. No header: 1.
 */
export function acceptQuality(accept: string | undefined, mediaType: string): number {
  if (!accept?.trim()) return 1;
  const [type] = mediaType.split("/");
  let best = { specificity: -1, q: 0 };
  for (const part of accept.split(",")) {
    const [range = "", ...params] = part.trim().toLowerCase().split(";");
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    const specificity = range === mediaType ? 2 : range === `${type}/*` ? 1 : range === "*/*" ? 0 : -1;
    if (specificity > best.specificity && Number.isFinite(q)) best = { specificity, q: Math.min(Math.max(q, 0), 1) };
  }
  return best.q;
}

/** Whether a request's Accept ranks HTML above JSON (a browser's does; an API client's does not). */
export const prefersHtml = (accept: string | undefined) => acceptQuality(accept, "text/html") > acceptQuality(accept, "application/json");
