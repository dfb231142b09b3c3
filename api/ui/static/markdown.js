// A small, safe Markdown renderer for run outputs, and one for Slack mrkdwn (outbox previews).
//
// Safety comes first: the whole text is HTML-escaped before any rule runs, so the only markup in
// the result is the markup these rules write. Link targets are kept only when they are http(s)
// or mailto URLs; everything else stays text. No raw HTML, no images (an image would be a
// request to wherever the agent pointed it).

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const SAFE_URL = /^(https?:\/\/|mailto:)[^\s]*$/i;

function link(url, label) {
  // `url` is escaped text already: it holds no quote or angle bracket.
  const decoded = url.replace(/&amp;/g, "&");
  if (!SAFE_URL.test(decoded)) return label;
  return `<a href="${url}" rel="noopener noreferrer" target="_blank">${label}</a>`;
}

/** Inline rules on escaped text: code, links, bold, italics, strike. Code spans and link
 * targets are set aside first, so no later rule rewrites inside them. */
function inline(text) {
  const kept = [];
  const keep = (html) => {
    kept.push(html);
    return `\u0000${kept.length - 1}\u0000`;
  };
  let out = text.replace(/`([^`\n]+)`/g, (_, code) => keep(`<code>${code}</code>`));
  // A target may hold one level of parentheses: [x](https://en.wikipedia.org/wiki/A_(b)).
  out = out.replace(/!\[([^\]]*)\]\(((?:[^()\s]|\([^()\s]*\))+)\)/g, (_, alt) => alt);
  out = out.replace(/\[([^\]]+)\]\(((?:[^()\s]|\([^()\s]*\))+)\)/g, (_, label, url) => {
    const html = link(url, "\u0001");
    if (html === "\u0001") return label;
    const [open, close] = html.split("\u0001");
    return keep(open) + label + keep(close);
  });
  out = out.replace(/&lt;(https?:\/\/[^\s]+?)&gt;/g, (_, url) => keep(link(url, url)));
  out = out.replace(/(\*\*|__)(?=\S)([\s\S]*?\S)\1/g, "<strong>$2</strong>");
  out = out.replace(/(^|[^\w*])\*(?=\S)([^*\n]*?\S)\*(?!\*)/g, "$1<em>$2</em>");
  out = out.replace(/(^|[^\w])_(?=\S)([^_\n]*?\S)_(?!\w)/g, "$1<em>$2</em>");
  out = out.replace(/~~(?=\S)([\s\S]*?\S)~~/g, "<del>$1</del>");
  return out.replace(/\u0000(\d+)\u0000/g, (_, i) => kept[Number(i)]);
}

const TABLE_RULE = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

/** The cells of a table row: "| a | b |" → ["a", "b"] (a "\|" stays in its cell). */
function cells(line) {
  const inner = line.trim().replace(/^\|/, "").replace(/(?<!\\)\|$/, "");
  return inner.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, "|"));
}

/** A GitHub-style table: a header row, its |---| rule (":" aligns), then rows. */
function table(head, rule, rows) {
  const aligns = cells(rule).map((c) =>
    c.startsWith(":") && c.endsWith(":") ? "center" : c.endsWith(":") ? "right" : null);
  const cell = (tag, text, i) =>
    `<${tag}${aligns[i] ? ` class="align-${aligns[i]}"` : ""}>${inline(text)}</${tag}>`;
  const width = cells(head).length;
  const row = (line, tag) => {
    const found = cells(line);
    return `<tr>${Array.from({ length: width }, (_, i) => cell(tag, found[i] ?? "", i)).join("")}</tr>`;
  };
  return `<table><thead>${row(head, "th")}</thead>` +
    `<tbody>${rows.map((line) => row(line, "td")).join("")}</tbody></table>`;
}

/** Markdown → HTML (headings, paragraphs, lists, quotes, code blocks, rules, tables; safe
 * inline). */
export function renderMarkdown(source) {
  const lines = escapeHtml(String(source ?? "").replace(/[\u0000\u0001]/g, "")).split(/\r?\n/);
  const out = [];
  let paragraph = [];
  let list = null; // {tag, items}
  const flushParagraph = () => {
    if (paragraph.length) out.push(`<p>${inline(paragraph.join("\n")).replace(/\n/g, " ")}</p>`);
    paragraph = [];
  };
  const flushList = () => {
    if (list) out.push(`<${list.tag}>${list.items.map((i) => `<li>${inline(i)}</li>`).join("")}</${list.tag}>`);
    list = null;
  };
  const flush = () => {
    flushParagraph();
    flushList();
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = line.match(/^\s{0,3}(```|~~~)/);
    if (fence) {
      flush();
      const body = [];
      for (i++; i < lines.length && !lines[i].trimStart().startsWith(fence[1]); i++) body.push(lines[i]);
      out.push(`<pre><code>${body.join("\n")}</code></pre>`);
      continue;
    }
    const head = line.match(/^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/);
    if (head) {
      flush();
      // Inside a page whose title is an h1 and sections h2: the output's headings start at h3.
      const level = Math.min(head[1].length + 2, 6);
      out.push(`<h${level}>${inline(head[2])}</h${level}>`);
      continue;
    }
    if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flush();
      out.push("<hr>");
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1])
        && lines[i + 1].includes("-") && lines[i + 1].includes("|")) {
      flush();
      const head = line;
      const rule = lines[++i];
      const rows = [];
      while (i + 1 < lines.length && lines[i + 1].includes("|") && lines[i + 1].trim()) rows.push(lines[++i]);
      out.push(table(head, rule, rows));
      continue;
    }
    const quote = line.match(/^\s{0,3}&gt;\s?(.*)$/);
    if (quote) {
      flush();
      const body = [quote[1]];
      while (i + 1 < lines.length && /^\s{0,3}&gt;/.test(lines[i + 1])) {
        body.push(lines[++i].replace(/^\s{0,3}&gt;\s?/, ""));
      }
      out.push(`<blockquote>${renderInnerQuote(body)}</blockquote>`);
      continue;
    }
    const item = line.match(/^\s{0,3}([-*+]|\d{1,9}[.)])\s+(.*)$/);
    if (item) {
      flushParagraph();
      const tag = /\d/.test(item[1]) ? "ol" : "ul";
      if (!list || list.tag !== tag) {
        flushList();
        list = { tag, items: [] };
      }
      list.items.push(item[2]);
      continue;
    }
    if (!line.trim()) {
      flush();
      continue;
    }
    if (list && /^\s{2,}\S/.test(line)) {
      list.items[list.items.length - 1] += " " + line.trim();
      continue;
    }
    flushList();
    paragraph.push(line);
  }
  flush();
  return out.join("\n");
}

function renderInnerQuote(lines) {
  return lines.map((l) => (l.trim() ? `<p>${inline(l)}</p>` : "")).join("");
}

/** Slack mrkdwn → HTML, for the outbox: *bold*, _italic_, ~strike~, `code`, ```pre```,
 * <url|label> links, "> " quotes. Slack's own escapes (&amp; &lt; &gt;) are read back first. */
export function renderMrkdwn(source) {
  const text = String(source ?? "")
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  const blocks = text.split(/```/);
  return blocks
    .map((block, index) => {
      const escaped = escapeHtml(block);
      if (index % 2 === 1) return `<pre><code>${escaped.replace(/^\n/, "")}</code></pre>`;
      return escaped
        .split("\n")
        .map((line) => {
          let out = line.replace(/`([^`]+)`/g, "<code>$1</code>");
          out = out.replace(/&lt;([^|\s]+?)\|([^&]*?)&gt;/g, (_, url, label) => link(url, label));
          out = out.replace(/&lt;(https?:\/\/[^\s|]+?)&gt;/g, (_, url) => link(url, url));
          out = out.replace(/(^|[\s(])\*(?=\S)([^*]*?\S)\*(?=$|[\s).,!?:;])/g, "$1<strong>$2</strong>");
          out = out.replace(/(^|[\s(])_(?=\S)([^_]*?\S)_(?=$|[\s).,!?:;])/g, "$1<em>$2</em>");
          out = out.replace(/(^|[\s(])~(?=\S)([^~]*?\S)~(?=$|[\s).,!?:;])/g, "$1<del>$2</del>");
          const quote = out.match(/^&gt; ?(.*)$/);
          return quote ? `<blockquote>${quote[1]}</blockquote>` : out;
        })
        .join("<br>");
    })
    .join("");
}
