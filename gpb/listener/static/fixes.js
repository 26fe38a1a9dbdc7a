// Fixes made in Canvas from the course pages. The title input counts in the units the rule counts
// (the server says which), and a fix form is sent with fetch so the page stays as it is: the
// outcome is told in the live region, and the alert stream resolves the alert when gpb has re-read
// Canvas. Without this script the forms still work, answered by a page.
const notices = document.getElementById("live-notices");
const RELOAD_AFTER_MS = 1500;

function titleLength(input) {
  let text = input.value;
  if (input.dataset.trim === "true") text = text.trim();
  return input.dataset.utf16 === "true" ? text.length : [...text].length;
}

function count(input) {
  const output = input.closest("form").querySelector(".title-count");
  const length = titleLength(input);
  const limit = Number(input.dataset.limit);
  output.textContent = `${length} of ${limit} characters`;
  output.classList.toggle("over", length > limit);
}

function tell(kind, text) {
  if (!notices) return;
  const notice = document.createElement("p");
  notice.className = kind;
  notice.textContent = text;
  notices.prepend(notice);
}

// A live notice's "Fix it…" opens the problem's fix in its row.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a.fix-link");
  if (!link) return;
  const fix = document.getElementById(link.getAttribute("href").slice(1));
  if (!fix) return;
  event.preventDefault();
  fix.open = true;
  fix.scrollIntoView({ block: "center" });
  fix.querySelector("input:not([type=hidden]), button")?.focus();
});

document.addEventListener("input", (event) => {
  if (event.target.matches(".title-input")) count(event.target);
});

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.matches(".fix-form")) return;
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    // getAttribute: a field named "action" shadows the form's action property.
    const response = await fetch(form.getAttribute("action"), {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { Accept: "application/json" },
    });
    const answer = await response.json();
    if (response.ok) {
      tell("resolved", `${answer.what}: ${answer.canvas_answer}. The alert resolves when gpb has read it back from Canvas.`);
      // A page without the alert stream shows the change once gpb has read it back.
      if (form.dataset.reload) setTimeout(() => location.reload(), RELOAD_AFTER_MS);
    } else {
      tell("error", `Not done: ${answer.error.message}`);
    }
  } catch (error) {
    tell("error", "gpb could not be reached; nothing was sent. Reload the page and try again.");
  } finally {
    button.disabled = false;
  }
});
