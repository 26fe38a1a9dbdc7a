// The course page's live part. Each alert from the SSE stream (sent with the session cookie) is
// announced in a live region, and the assignment rows are fetched again: the server renders them
// with the same template as the page, so there is one way to draw a row.
const live = document.getElementById("live");
const liveState = document.getElementById("live-state");
const notices = document.getElementById("live-notices");
const KEEP_NOTICES = 5;
let latestRefresh = 0;

async function refreshRows() {
  const mine = ++latestRefresh;
  const response = await fetch(live.dataset.rowsUrl, { headers: { Accept: "text/html" } });
  const html = await response.text();
  // A redirect is the login page (the session ended); a newer refresh may be on its way.
  if (!response.ok || response.redirected || mine !== latestRefresh) return;
  const fresh = document.createElement("template");
  fresh.innerHTML = html;
  const kept = openFixes();
  document.getElementById("assignment-rows").replaceWith(fresh.content.getElementById("assignment-rows"));
  reopen(kept);
}

// A fix form the teacher has open stays open, with what was typed, when the rows are redrawn.
function openFixes() {
  return [...document.querySelectorAll("#assignment-rows details.fix-details[open]")].map((details) => ({
    id: details.id,
    fields: [...details.querySelectorAll("input:not([type=hidden]), select")].map((field) => ({
      name: field.name, value: field.value, checked: field.checked, type: field.type,
    })),
  }));
}

function reopen(kept) {
  for (const { id, fields } of kept) {
    const details = document.getElementById(id);
    if (!details) continue; // the problem is gone
    details.open = true;
    const inputs = [...details.querySelectorAll("input:not([type=hidden]), select")];
    fields.forEach((field, index) => {
      const input = inputs[index];
      if (!input || input.name !== field.name) return;
      if (field.type === "radio" || field.type === "checkbox") input.checked = field.checked;
      else input.value = field.value;
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }
}

function announce(alert) {
  const row = document.querySelector(`tr[data-assignment-id="${CSS.escape(alert.assignment_id)}"]`);
  const title = row ? row.dataset.title : `assignment ${alert.assignment_id}`;
  let what = alert.created_at === alert.updated_at ? `New ${alert.severity}` : `Updated ${alert.severity}`;
  if (alert.state === "resolved") what = "Resolved";
  const notice = document.createElement("p");
  notice.className = alert.state === "resolved" ? "resolved" : alert.severity;
  notice.textContent = `${what} on “${title}”: ${alert.message}`;
  // An open problem gpb can fix in Canvas: the notice leads to its fix (fixes.js opens it).
  if (alert.state === "open" && document.getElementById(`fix-${alert.assignment_id}-${alert.code}`)) {
    const link = document.createElement("a");
    link.href = `#fix-${alert.assignment_id}-${alert.code}`;
    link.className = "fix-link";
    link.textContent = " Fix it…";
    notice.append(link);
  }
  notices.prepend(notice);
  while (notices.children.length > KEEP_NOTICES) notices.lastElementChild.remove();
}

function showState(state, text) {
  live.dataset.live = state;
  liveState.textContent = text;
}

const stream = new EventSource(live.dataset.streamUrl);
stream.addEventListener("open", () => {
  showState("connected", "Live updates are on: new alerts appear here as Canvas reports changes.");
  refreshRows(); // anything that changed between drawing the page and connecting
});
stream.addEventListener("error", () => {
  if (stream.readyState === EventSource.CLOSED) {
    showState("closed", "Live updates stopped. Reload the page to start them again.");
  } else {
    showState("reconnecting", "Live updates paused; reconnecting…");
  }
});
stream.addEventListener("alert", async (message) => {
  const alert = JSON.parse(message.data);
  await refreshRows();
  announce(alert);
});
