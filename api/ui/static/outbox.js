// The dev outbox: what Slack and e-mail deliveries would have sent, rendered per channel.

import { api } from "./api.js";
import { renderMrkdwn } from "./markdown.js";
import { errorBox, h, heading, timeEl } from "./util.js";

const PAGE = 20;

export async function renderOutbox(container, _parts, query) {
  const offset = Math.max(0, Number.parseInt(query.get("offset") || "0", 10) || 0);
  container.replaceChildren(heading("Outbox"), h("p", { class: "muted" }, "Loading…"));
  let page;
  try {
    page = await api("/delivery/outbox", { params: { limit: PAGE, offset } });
  } catch (error) {
    container.replaceChildren(heading("Outbox"), errorBox(error));
    return;
  }
  const intro = page.enabled
    ? "Deliveries to Slack or e-mail, which this server has no settings for, are kept here instead of sent."
    : "This server sends deliveries for real; the outbox is on in agent-scheduler dev only.";
  const items = page.messages.map(message);
  const pager = h("nav", { class: "pager", "aria-label": "Outbox pages" },
    offset > 0 ? h("a", { class: "button", href: `#/outbox?offset=${Math.max(0, offset - PAGE)}` }, "← Newer") : null,
    h("span", { class: "muted" }, `${page.count.toLocaleString()} kept`),
    offset + PAGE < page.count ? h("a", { class: "button", href: `#/outbox?offset=${offset + PAGE}` }, "Older →") : null);
  container.replaceChildren(
    heading("Outbox"),
    h("p", { class: "muted" }, intro),
    items.length ? h("div", { class: "outbox" }, items) : h("p", { class: "empty-hint" },
      page.enabled
        ? "Nothing kept yet: a run of a job whose channel is slack:… or email:… puts its delivery here."
        : "Nothing kept."),
    pager,
  );
}

function message(item) {
  const header = h("header", {},
    h("h2", {}, item.job_name),
    h("div", { class: "muted" }, h("code", {}, item.channel), " · ", timeEl(item.created_at), " · ",
      h("a", { href: `#/runs/${encodeURIComponent(item.job_id)}/${encodeURIComponent(item.run_id)}` }, "the run")));
  const body = item.provider === "slack" ? slack(item.content) : email(item.content);
  return h("article", { class: `panel outbox-item outbox-${item.provider}`, "data-run-id": item.run_id }, header, body);
}

function slack(content) {
  const [first, ...thread] = content.texts;
  const bubble = (text, cls) => {
    const el = h("div", { class: `slack-message ${cls}` });
    // renderMrkdwn escapes everything before its rules (markdown.js).
    if (content.mrkdwn) el.innerHTML = renderMrkdwn(text);
    else el.textContent = text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
    return el;
  };
  return h("div", { class: "slack" },
    h("div", { class: "slack-label" }, "Slack message"),
    bubble(first ?? "", "first"),
    thread.length ? h("div", { class: "slack-thread", "aria-label": "Replies in its thread" },
      thread.map((text) => bubble(text, "reply"))) : null,
    content.truncated ? h("p", { class: "muted" }, "(cut at ten messages)") : null);
}

function email(content) {
  const frame = h("iframe", {
    class: "email-html",
    title: `E-mail to ${content.to}: ${content.subject}`,
    // No scripts ever run in it; same origin only so that this page can size it and apply its
    // styles (below).
    sandbox: "allow-same-origin",
    referrerpolicy: "no-referrer",
  });
  frame.addEventListener("load", () => showEmail(frame));
  frame.srcdoc = content.html;
  return h("div", { class: "email" },
    h("dl", { class: "facts" },
      h("dt", {}, "From"), h("dd", {}, content.from),
      h("dt", {}, "To"), h("dd", {}, content.to),
      h("dt", {}, "Subject"), h("dd", { class: "subject" }, content.subject)),
    frame,
    h("details", {}, h("summary", {}, "Plain-text part"), h("pre", {}, content.text)));
}

/**
 * Show the e-mail as a mail client would. Its document inherits this page's policy, which
 * refuses inline style markup; so its `style` attributes and `<style>` elements are applied
 * through the CSSOM (which the policy allows) rather than loosening the policy for the whole
 * dashboard. Then the frame takes the height of its content: nothing is clipped.
 */
function showEmail(frame) {
  const doc = frame.contentDocument;
  if (!doc) return;
  for (const el of doc.querySelectorAll("[style]")) el.style.cssText = el.getAttribute("style");
  const sheets = [...doc.querySelectorAll("style")].map((style) => {
    const sheet = new frame.contentWindow.CSSStyleSheet();
    sheet.replaceSync(style.textContent);
    return sheet;
  });
  if (sheets.length) doc.adoptedStyleSheets = sheets;
  frame.style.height = `${doc.documentElement.scrollHeight + 4}px`;
}
