/**
 * `--url-rewrite FROM=TO`: downloads whose URL starts with FROM are fetched from TO+rest instead,
 * so a build can run against an internal mirror while the bundle keeps the original URLs.
 */
import { parseAssignment } from '../../support/assignment.ts';

export interface UrlRewriteRule {
  readonly from: string;
  readonly to: string;
}

export function parseUrlRewrite(text: string): UrlRewriteRule {
  const [from, to] = parseAssignment('--url-rewrite', 'FROM=TO', text);
  return { from, to };
}

/** Applies the rule with the longest matching prefix (the most specific mirror wins). */
export function rewriteUrl(url: string, rules: readonly UrlRewriteRule[]): string {
  let best: UrlRewriteRule | undefined;
  for (const rule of rules) {
    if (url.startsWith(rule.from) && (best === undefined || rule.from.length > best.from.length)) best = rule;
  }
  return best ? best.to + url.slice(best.from.length) : url;
}
