// report.html's behaviour: sort the runs table by a header click; show one dev dialogue with every run's summary.
"use strict";

function sortValue(cell) {
  const raw = cell.dataset.sort;
  if (raw === undefined || raw === "") return null;
  const number = Number(raw);
  return Number.isNaN(number) ? raw : number;
}

function sortTable(table, column, header) {
  const body = table.tBodies[0];
  const ascending = !header.classList.contains("sorted-asc");
  table.querySelectorAll("th").forEach((th) => th.classList.remove("sorted-asc", "sorted-desc"));
  header.classList.add(ascending ? "sorted-asc" : "sorted-desc");
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = sortValue(a.cells[column]), y = sortValue(b.cells[column]);
    if (x === null || y === null) return (x === null) - (y === null);  // blanks last either way
    const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return ascending ? order : -order;
  });
  rows.forEach((row) => body.appendChild(row));
}

function text(tag, content, className) {
  const element = document.createElement(tag);
  element.textContent = content;
  if (className) element.className = className;
  return element;
}

function setupViewer(data) {
  const modelSelect = document.getElementById("model-filter");
  const backendSelect = document.getElementById("backend-filter");
  const dialogueSelect = document.getElementById("dialogue-select");
  const target = document.getElementById("viewer-dialogue");
  const fill = (select, values) => values.forEach((v) => select.appendChild(new Option(v, v)));
  fill(modelSelect, [...new Set(data.runs.map((r) => r.model))]);
  fill(backendSelect, [...new Set(data.runs.map((r) => r.backend))]);
  data.dialogues.forEach((d, i) => {
    dialogueSelect.appendChild(new Option(`${d.fname} (spread ${d.spread.toFixed(1)})`, String(i)));
  });

  function render() {
    target.replaceChildren();
    const dialogue = data.dialogues[Number(dialogueSelect.value)];
    if (!dialogue) return;
    target.appendChild(text("h3", dialogue.fname));
    target.appendChild(dialogue.dialogue === null
      ? text("p", "The dialogue could not be loaded from the run's data here.", "missing")
      : text("div", dialogue.dialogue, "dialogue"));
    const references = document.createElement("ol");
    references.className = "references";
    dialogue.references.forEach((r) => references.appendChild(text("li", r)));
    target.append(text("h4", "references"), references);
    const grid = document.createElement("div");
    grid.className = "runs-grid";
    dialogue.outputs.forEach(([runIndex, summary, r1, r2, rl, mean]) => {
      const run = data.runs[runIndex];
      if ((modelSelect.value && run.model !== modelSelect.value) ||
          (backendSelect.value && run.backend !== backendSelect.value)) return;
      const card = document.createElement("div");
      card.className = "run-card";
      card.dataset.run = run.run;
      card.append(text("h3", run.label), text("div", summary, "summary"));
      const scores = mean === null ? "no per-example ROUGE recorded"
        : `ROUGE-1/2/L ${r1.toFixed(1)} / ${r2.toFixed(1)} / ${rl.toFixed(1)}, mean ${mean.toFixed(1)}`;
      card.appendChild(text("div", scores, "scores"));
      grid.appendChild(card);
    });
    target.appendChild(grid);
  }
  [modelSelect, backendSelect, dialogueSelect].forEach((s) => s.addEventListener("change", render));
  render();
}

document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("runs");
  table.querySelectorAll("th").forEach((th, i) => th.addEventListener("click", () => sortTable(table, i, th)));
  setupViewer(JSON.parse(document.getElementById("viewer-data").textContent));
});
