// sealbox console — a little vanilla JavaScript on server-rendered pages (no build step).
// Data from the server arrives in data-* attributes and JSON, and is only ever written with
// textContent: never innerHTML, so object keys cannot become markup.
"use strict";

(function () {
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function humanSize(n) {
    var units = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return i === 0 ? n + " B" : n.toFixed(1) + " " + units[i];
  }

  // Forms that ask first (delete).
  $$("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
    });
  });

  // Forms that ask for a name to be typed (Delete bucket, Empty bucket): the button waits for it.
  $$("[data-confirm-name]").forEach(function (input) {
    var button = $("[data-confirm-button]", input.form);
    var sync = function () { button.disabled = input.value.trim() !== input.getAttribute("data-confirm-name"); };
    input.addEventListener("input", sync);
    sync();
  });

  // Copy S3 URI (and anything else marked data-copy) to the clipboard.
  $$("[data-copy]").forEach(function (button) {
    var label = button.textContent;
    button.addEventListener("click", function () {
      var done = function (text) {
        button.textContent = text;
        window.setTimeout(function () { button.textContent = label; }, 2000);
      };
      if (!navigator.clipboard) { done("Copy failed"); return; }
      navigator.clipboard.writeText(button.getAttribute("data-copy"))
        .then(function () { done("Copied"); }, function () { done("Copy failed"); });
    });
  });

  // Drop-down menus close when clicking elsewhere or pressing Escape.
  document.addEventListener("click", function (ev) {
    $$("details[data-menu][open]").forEach(function (menu) {
      if (!menu.contains(ev.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") $$("details[data-menu][open]").forEach(function (m) { m.removeAttribute("open"); });
  });

  // Selection in the Objects list.
  var selectAll = $("[data-select-all]");
  var counter = $("[data-selected-count]");
  function updateCount() {
    var boxes = $$("[data-select]");
    var n = boxes.filter(function (b) { return b.checked; }).length;
    if (counter) counter.textContent = n ? String(n) : "";
    if (selectAll) {
      selectAll.checked = n > 0 && n === boxes.length;
      selectAll.indeterminate = n > 0 && n < boxes.length;
    }
  }
  if (selectAll) {
    selectAll.addEventListener("change", function () {
      $$("[data-select]").forEach(function (b) { b.checked = selectAll.checked; });
      updateCount();
    });
  }
  $$("[data-select]").forEach(function (b) { b.addEventListener("change", updateCount); });
  updateCount();

  // Uploads: each file is PUT as the request body (streamed by the browser, never base64 or buffered).
  var zone = $("[data-dropzone]");
  if (zone) {
    var input = $("[data-file-input]");
    var list = $("[data-uploads]", zone);
    var queue = [];
    var busy = false;
    var uploaded = 0;
    var anyFailed = false;

    var enqueue = function (file, relPath) {
      var row = el("li");
      var name = el("span", "up-name", relPath);
      var state = el("span", "up-state muted", humanSize(file.size));
      var bar = el("progress");
      bar.max = 100; bar.value = 0;
      row.appendChild(name); row.appendChild(state); row.appendChild(bar);
      list.appendChild(row);
      queue.push({ file: file, path: relPath, state: state, bar: bar, row: row });
      pump();
    };

    // A failed upload: its bar turns red and full, its state is the reason.
    var failed = function (job, reason) {
      anyFailed = true;
      job.row.classList.add("up-failed");
      job.row.setAttribute("data-upload-failed", "");
      job.bar.value = 100;
      job.state.className = "up-state up-error";
      job.state.textContent = reason;
    };

    var pump = function () {
      if (busy) return;
      var job = queue.shift();
      if (!job) {
        // Reload to list the new objects, unless a failure's reason is on screen to be read.
        if (uploaded && !anyFailed) window.setTimeout(function () { window.location.reload(); }, 600);
        return;
      }
      busy = true;
      var key = zone.getAttribute("data-prefix") + job.path;
      var xhr = new XMLHttpRequest();
      var target = zone.getAttribute("data-upload-url");
      var sseChoice = $("[data-upload-sse]", zone);
      var sse = sseChoice ? sseChoice.value : "";
      xhr.open("PUT", target + (target.indexOf("?") < 0 ? "?" : "&") + "key=" + encodeURIComponent(key) +
               (sse ? "&sse=" + encodeURIComponent(sse) : ""));
      xhr.setRequestHeader("X-CSRF-Token", zone.getAttribute("data-csrf"));
      xhr.setRequestHeader("Accept", "application/json");
      if (job.file.type) xhr.setRequestHeader("Content-Type", job.file.type);
      xhr.upload.addEventListener("progress", function (ev) {
        if (ev.lengthComputable) job.bar.value = Math.round(100 * ev.loaded / ev.total);
      });
      xhr.addEventListener("load", function () {
        var reply = {};
        try { reply = JSON.parse(xhr.responseText); } catch (e) { reply = { ok: false, error: "HTTP " + xhr.status }; }
        if (xhr.status === 200 && reply.ok) {
          uploaded++;
          job.bar.value = 100;
          job.state.className = "up-state up-done";
          job.state.textContent = "Uploaded" + (reply.sse ? " · SSE-S3" : "");
        } else {
          failed(job, reply.error || ("Upload failed (HTTP " + xhr.status + ")."));
        }
        busy = false; pump();
      });
      xhr.addEventListener("error", function () {
        failed(job, "Could not upload " + job.path + ": the connection to the console was lost.");
        busy = false; pump();
      });
      xhr.send(job.file);
    };

    // Folders dropped from the desktop: walk them and keep their relative paths.
    var walk = function (entry, path) {
      if (entry.isFile) {
        entry.file(function (file) { enqueue(file, path + file.name); });
      } else if (entry.isDirectory) {
        var reader = entry.createReader();
        var readAll = function () {
          reader.readEntries(function (entries) {
            if (!entries.length) return;
            entries.forEach(function (child) { walk(child, path + entry.name + "/"); });
            readAll();
          });
        };
        readAll();
      }
    };

    input.addEventListener("change", function () {
      Array.prototype.forEach.call(input.files, function (f) { enqueue(f, f.name); });
      input.value = "";
    });
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (ev) { ev.preventDefault(); zone.classList.add("dragging"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (ev) {
      ev.preventDefault();
      var entries = Array.prototype.map.call(ev.dataTransfer.items || [], function (item) {
        return item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
      }).filter(function (entry) { return entry; });
      if (entries.length) {
        entries.forEach(function (entry) { walk(entry, ""); });
      } else {  // no file-system entries (older browsers, synthetic drops): plain files
        Array.prototype.forEach.call(ev.dataTransfer.files, function (f) { enqueue(f, f.name); });
      }
    });
  }

  // Edit server-side encryption: the key type only matters when encryption is enabled.
  var sseForm = $("[data-sse-form]");
  if (sseForm) {
    var keyType = $("[data-key-type]", sseForm);
    var sync = function () {
      var enabled = $("input[name=sse][value=enable]", sseForm).checked;
      keyType.disabled = !enabled;
    };
    $$("input[name=sse]", sseForm).forEach(function (r) { r.addEventListener("change", sync); });
    sync();
    sseForm.addEventListener("submit", function () {
      var button = $("button[type=submit]", sseForm);
      // Let the request go first, then show that it is under way.
      window.setTimeout(function () {
        button.disabled = true;
        button.textContent = button.getAttribute("data-busy-label") || button.textContent;
      }, 0);
    });
  }

  // Master keys: paint the rotation bar; poll while values are still under an older key.
  var keysNode = $("[data-master-keys]");
  if (keysNode) {
    var rotBar = $("[data-rotation-bar]", keysNode);
    var paintRotation = function (total, under) {
      $("[data-seg=ok]", rotBar).style.width = (total ? 100 * under / total : 100) + "%";
    };
    paintRotation(Number(rotBar.getAttribute("data-total")), Number(rotBar.getAttribute("data-ok")));
    var pollKeys = function () {
      fetch(keysNode.getAttribute("data-status-url"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
        .then(function (s) {
          paintRotation(s.total, s.under_active);
          $("[data-rotation-text]", keysNode).textContent = s.pending
            ? s.pending + " of " + s.total + " sealed values are still under an older key: rotation in progress or unfinished."
            : "All " + s.total + " sealed values are under the active key.";
          if (s.pending) window.setTimeout(pollKeys, 2000);
        })
        .catch(function () { window.setTimeout(pollKeys, 5000); });
    };
    if (Number(keysNode.getAttribute("data-pending"))) window.setTimeout(pollKeys, 2000);
  }

  // A bulk job: poll its status until it ends, then show the summary.
  var jobNode = $("[data-job]");
  if (jobNode) {
    // The bar is split by outcome: succeeded, unchanged, failed (widths set here: the CSP forbids inline styles).
    var paintBar = function (bar, total, counts) {
      ["ok", "skipped", "failed"].forEach(function (name) {
        var seg = $("[data-seg=" + name + "]", bar);
        seg.style.width = (total ? 100 * counts[name] / total : 0) + "%";
      });
      bar.setAttribute("aria-valuemax", String(total));
      bar.setAttribute("aria-valuenow", String(counts.ok + counts.skipped + counts.failed));
    };
    var jobBar = $("[data-job-bar]", jobNode);
    paintBar(jobBar, Number(jobBar.getAttribute("data-total")), {
      ok: Number(jobBar.getAttribute("data-ok")), skipped: Number(jobBar.getAttribute("data-skipped")),
      failed: Number(jobBar.getAttribute("data-failed"))});
    var show = function (s) {
      jobNode.setAttribute("data-state", s.state);
      var badge = $("[data-job-state]", jobNode);
      badge.textContent = s.label;
      badge.className = "pill job-state" + (s.tone ? " pill-" + s.tone : "");
      badge.setAttribute("data-tone", s.tone);
      $("[data-job-done]", jobNode).textContent = String(s.done);
      $("[data-job-total]", jobNode).textContent = String(s.total);
      $("[data-job-succeeded]", jobNode).textContent = String(s.succeeded);
      $("[data-job-skipped]", jobNode).textContent = String(s.skipped);
      $("[data-job-failed]", jobNode).textContent = String(s.failed);
      paintBar(jobBar, s.total, { ok: s.succeeded, skipped: s.skipped, failed: s.failed });
      var active = s.state === "listing" || s.state === "running";
      $("[data-job-hint]", jobNode).hidden = !active;
      var err = $("[data-job-error]", jobNode);
      err.hidden = !s.error; err.textContent = s.error || "";
      // Failed and unchanged items (with why: SSE-C, or the Object Lock that keeps a version): listed once it ends.
      var list = function (items, box, rowsSel, label) {
        if (active || !items || !items.length || !$(box, jobNode)) return;
        var rows = $(rowsSel, jobNode);
        rows.textContent = "";
        items.forEach(function (f) {
          var tr = el("tr");
          var keyCell = el("td", "mono break", f.key), reasonCell = el("td", "", f.reason);
          keyCell.setAttribute("data-label", label);
          reasonCell.setAttribute("data-label", "Reason");
          tr.appendChild(keyCell);
          tr.appendChild(reasonCell);
          rows.appendChild(tr);
        });
        $(box, jobNode).hidden = false;
      };
      list(s.failures, "[data-job-failures]", "[data-job-failure-rows]", "Key");
      list(s.unchanged, "[data-job-skipped-items]", "[data-job-skipped-rows]", "Key");
      var offer = $("[data-offer-purge]", jobNode);
      if (offer) offer.hidden = active || !s.succeeded;
      return active;
    };
    var poll = function () {
      fetch(jobNode.getAttribute("data-status-url"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
        .then(function (s) { if (show(s)) window.setTimeout(poll, 1000); })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    var initial = jobNode.getAttribute("data-state");
    if (initial === "listing" || initial === "running") window.setTimeout(poll, 500);
  }
})();
