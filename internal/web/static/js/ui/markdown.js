// @ts-check
// ui/markdown.js: peer Markdown to a sanitised DocumentFragment. marked turns
// Markdown into HTML with every raw HTML token escaped (so "<b>" shows as
// text); DOMPurify then keeps only a short allowlist of tags and the href
// attribute, with http(s) and mailto links only. DOMPurify's own Trusted
// Types policy ("dompurify", the only one the CSP allows) is the single
// place HTML becomes DOM; this module returns nodes, never a string.

import { Marked } from '../../vendor/marked.esm.js';
import DOMPurify from '../../vendor/purify.es.mjs';

/** @param {string} s */
function escapeHTML(s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

const marked = new Marked({ gfm: true, breaks: true, async: false });
marked.use({
  renderer: {
    // Raw HTML in a message is shown as text, never passed through.
    /** @param {{text: string}} token */
    html(token) { return escapeHTML(token.text); },
    // Pictures come only as decrypted attachments (a later issue), never by URL.
    /** @param {{text: string}} token */
    image(token) { return escapeHTML(token.text); },
  },
});

const CONFIG = {
  RETURN_DOM_FRAGMENT: true,
  ALLOWED_TAGS: ['p', 'br', 'strong', 'em', 'del', 'code', 'pre', 'blockquote', 'a', 'ul', 'ol', 'li', 'hr'],
  ALLOWED_ATTR: ['href'],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:)/i,
};

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.nodeName === 'A') {
    node.setAttribute('rel', 'noopener noreferrer');
    node.setAttribute('target', '_blank');
  }
});

/**
 * Render Markdown from a peer as a safe fragment. Falls back to plain text if
 * the sanitizer is unavailable or anything throws.
 * @param {string} text
 * @returns {DocumentFragment}
 */
export function renderMarkdown(text) {
  const plain = () => {
    const f = document.createDocumentFragment();
    const p = document.createElement('p');
    p.textContent = text;
    f.append(p);
    return f;
  };
  if (!DOMPurify.isSupported) return plain();
  try {
    const html = /** @type {string} */ (marked.parse(text));
    const out = DOMPurify.sanitize(html, CONFIG);
    return out instanceof DocumentFragment ? out : plain();
  } catch {
    return plain();
  }
}
