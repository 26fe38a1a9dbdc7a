// A run's page while the run is queued or running: polls GET /api/syncs/{id} (the session cookie
// goes along) and moves the progress bar. When the status changes (running, then done) the page is
// fetched again and its run part swapped in, so the report is drawn by the server's template, the
// one way to draw it.
const POLL_MS = 1000;
const MAX_FAILURES = 5;
const ACTIVE = new Set(["queued", "running"]);
const news = document.getElementById("run-news");
let failures = 0;

function say(text) {
  const line = document.createElement("p");
  line.textContent = text;
  news.replaceChildren(line);
}

function showProgress(run) {
  const bar = document.getElementById("run-progress");
  const text = document.getElementById("run-progress-text");
  const { done, total, confirmed } = run.progress;
  if (total > 0) {
    bar.max = total;
    bar.value = done;
    text.textContent = `${done} of ${total} grades done; ${confirmed} confirmed in IC`;
  } else {
    bar.removeAttribute("value"); // indeterminate: nothing to count yet
    text.textContent = run.status === "queued" ? "Waiting to start" : "Working out what to send";
  }
}

// Draws the run part of the page again, from the server: on each change of status, and at the end.
async function redraw() {
  const response = await fetch(window.location.pathname, { headers: { Accept: "text/html" } });
  if (!response.ok || response.redirected) return false;
  const fresh = document.createElement("template");
  fresh.innerHTML = await response.text();
  document.getElementById("run").replaceWith(fresh.content.getElementById("run"));
  document.getElementById("run-refresh")?.remove(); // the script follows it: no reload needed
  return true;
}

async function poll(url, status) {
  let run;
  try {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`answered ${response.status}`);
    run = await response.json();
    failures = 0;
  } catch {
    failures += 1;
    if (failures >= MAX_FAILURES) {
      say("Live progress stopped: gpb did not answer. Reload the page to see the run's state.");
      return;
    }
    setTimeout(() => poll(url, status), POLL_MS * failures);
    return;
  }
  const changed = run.status !== status;
  if (changed && !(await redraw())) {
    say("Live progress stopped. Reload the page to see the run's state.");
    return;
  }
  if (ACTIVE.has(run.status)) {
    if (changed) say(`The run is ${run.status}.`);
    showProgress(run);
    setTimeout(() => poll(url, run.status), POLL_MS);
    return;
  }
  say(`The run has finished: ${run.status}.`);
}

const run = document.getElementById("run");
if (run.dataset.active === "yes") {
  document.getElementById("run-refresh")?.remove();
  poll(run.dataset.apiUrl, run.dataset.status);
}
