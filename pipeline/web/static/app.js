// The workbench's only script: job progress polling and the findings filter. No framework, no build.
"use strict";

function pollJob(box) {
  const id = box.dataset.job;
  if (!/^[0-9a-f]{32}$/.test(id)) return;
  const bar = document.getElementById("job-progress");
  const phase = document.getElementById("job-phase");
  const done = document.getElementById("job-done");
  const list = document.getElementById("job-messages");
  const tick = () => {
    fetch("/jobs/" + id, {credentials: "same-origin", cache: "no-store"})
      .then((r) => r.json())
      .then((job) => {
        bar.max = job.total;
        bar.value = job.done;
        done.textContent = String(job.done);
        phase.textContent = job.phase;
        list.replaceChildren(...job.messages.map((m) => {
          const li = document.createElement("li");
          li.textContent = m;
          return li;
        }));
        if (job.status === "done" || job.status === "error") {
          window.location.reload();
        } else {
          window.setTimeout(tick, 400);
        }
      })
      .catch(() => window.setTimeout(tick, 1500));
  };
  tick();
}

function setupFilter(box) {
  const table = document.getElementById("findings-table");
  if (!table) return;
  const boxes = Array.from(box.querySelectorAll("input[type=checkbox]"));
  const apply = () => {
    const shown = new Set(boxes.filter((b) => b.checked).map((b) => b.value));
    table.querySelectorAll("tbody tr[data-verdict]").forEach((row) => {
      row.classList.toggle("hidden", !shown.has(row.dataset.verdict));
    });
  };
  boxes.forEach((b) => b.addEventListener("change", apply));
  const onlyBad = document.getElementById("only-bad");
  if (onlyBad) {
    onlyBad.addEventListener("click", () => {
      boxes.forEach((b) => { b.checked = !["supported", "derived"].includes(b.value); });
      apply();
    });
  }
  const printButton = document.getElementById("print-page");
  if (printButton) printButton.addEventListener("click", () => window.print());
  apply();
}

document.addEventListener("DOMContentLoaded", () => {
  const job = document.getElementById("job");
  if (job) pollJob(job);
  const filter = document.getElementById("verdict-filter");
  if (filter) setupFilter(filter);
});
