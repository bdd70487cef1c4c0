// The workbench's only script: job progress polling, the findings filter and the editor's live
// re-check. No framework, no build.
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

function setupEditor(form) {
  // Debounced: each pause in typing sends the whole text to the server, which checks it with the
  // same checker as the job and returns the coloured report. Only the newest answer is shown.
  const id = form.dataset.job;
  if (!/^[0-9a-f]{32}$/.test(id)) return;
  const text = document.getElementById("edit-text");
  const status = document.getElementById("check-status");
  const report = document.getElementById("report");
  const verdict = document.getElementById("verdict-line");
  let timer = null;
  let sent = 0;
  const check = () => {
    const mine = ++sent;
    status.className = "status";
    status.textContent = "正在核对……";
    fetch("/jobs/" + id + "/check", {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({text: text.value}),
    })
      .then((r) => r.json())
      .then((answer) => {
        if (mine !== sent) return;
        if (answer.error) {
          status.className = "status bad";
          status.textContent = answer.error;
          return;
        }
        // The server escaped every piece of report text; the markup is only its coloured spans.
        report.innerHTML = answer.report_html;
        report.dataset.bad = String(answer.bad);
        status.className = answer.ok ? "status ok" : "status bad";
        status.textContent = answer.ok ? "已重新核对：所有数字都有依据。"
          : "已重新核对：有 " + answer.bad + " 处需要核对（红色等颜色标出）。";
        if (verdict) {
          verdict.className = answer.ok ? "ok" : "bad";
          verdict.textContent = answer.ok ? "核对通过：所有数字和名称都能在指标数据中找到依据。"
            : "有 " + answer.bad + " 处需要人工核对（矛盾、旧数、无据或遮盖）。";
        }
      })
      .catch(() => {
        if (mine !== sent) return;
        status.className = "status bad";
        status.textContent = "暂时无法核对（工作台没有响应），请稍后再改一下试试。";
      });
  };
  text.addEventListener("input", () => {
    window.clearTimeout(timer);
    status.className = "status";
    status.textContent = "正在输入……";
    timer = window.setTimeout(check, 500);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const editor = document.getElementById("edit-form");
  if (editor) setupEditor(editor);
  const job = document.getElementById("job");
  if (job) pollJob(job);
  const filter = document.getElementById("verdict-filter");
  if (filter) setupFilter(filter);
});
