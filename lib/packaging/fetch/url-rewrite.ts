/**
 * `--url-rewrite FROM=TO`: downloads whose URL starts with FROM are fetched from TO+rest instead,
 * so a build can run against an internal mirror while the bundle keeps the original URLs.
 */
import { PackagingError } from '../../domain/errors.ts';

export interface UrlRewriteRule {
  readonly from: string;
  readonly to: string;
}

export function parseUrlRewrite(text: string): UrlRewriteRule {
  const separator = text.indexOf('=');
  if (separator <= 0 || separator === text.length - 1) {
    throw new PackagingError('InvalidOption', `--url-rewrite expects FROM=TO, got [${text}]`, { value: text });
  }
  return { from: text.slice(0, separator), to: text.slice(separator + 1) };
}

/** Applies the rule with the longest matching prefix (the most specific mirror wins). */
export function rewriteUrl(url: string, rules: readonly UrlRewriteRule[]): string {
  let best: UrlRewriteRule | undefined;
  for (const rule of rules) {
    if (url.startsWith(rule.from) && (best === undefined || rule.from.length > best.from.length)) best = rule;
  }
  return best ? best.to + url.slice(best.from.length) : url;
}
