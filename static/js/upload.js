// Drag-and-drop upload with per-file progress: one XHR per image (with its sidecar .txt, paired
// by name), one after another. The same endpoint serves the plain form fallback (no JavaScript).
(function () {
  "use strict";
  var form = document.querySelector("form.upload-form");
  if (!form) return;
  var zone = form.querySelector(".dropzone");
  var input = form.querySelector("input[type=file]");
  var list = document.querySelector("[data-testid=upload-list]");
  var maxBytes = parseInt(form.dataset.maxMb, 10) * 1024 * 1024;
  var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var SIDECAR = /\.(txt|hdr)$/i;
  // One file at a time: the link, not the server, is the bottleneck for big TIFFs, results
  // arrive in drop order, and an embedded SQLite database never sees two writers at once.
  var PARALLEL = 1;

  function baseName(name) {
    return name.replace(/^.*[\\/]/, "");
  }
  function stem(name) {
    return baseName(name).replace(/\.[^.]*$/, "").toLowerCase();
  }

  function row(label) {
    var li = document.createElement("li");
    li.setAttribute("data-testid", "upload-item");
    var name = document.createElement("span");
    name.className = "name";
    name.textContent = label;
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    var msg = document.createElement("span");
    msg.className = "msg";
    msg.setAttribute("data-testid", "upload-status");
    msg.textContent = "waiting";
    li.appendChild(name);
    li.appendChild(bar);
    li.appendChild(msg);
    list.appendChild(li);
    return { li: li, bar: bar, msg: msg };
  }

  function finish(ui, status, text) {
    ui.li.className = status;
    ui.li.dataset.status = status;
    ui.bar.value = 100;
    ui.msg.textContent = text;
  }

  // Images become jobs; a sidecar rides with the image of the same stem.
  function jobsFrom(files) {
    var sidecars = {};
    var images = [];
    Array.prototype.forEach.call(files, function (f) {
      if (SIDECAR.test(f.name)) sidecars[stem(f.name)] = f;
      else images.push(f);
    });
    var jobs = images.map(function (f) {
      var side = sidecars[stem(f.name)];
      if (side) delete sidecars[stem(f.name)];
      return { image: f, sidecar: side || null };
    });
    Object.keys(sidecars).forEach(function (k) {
      jobs.push({ image: null, sidecar: sidecars[k] });
    });
    return jobs;
  }

  function send(job, ui, done) {
    var main = job.image || job.sidecar;
    var total = main.size + (job.image && job.sidecar ? job.sidecar.size : 0);
    if (job.image && total > maxBytes) {
      finish(ui, "rejected", main.name + ": over the " + form.dataset.maxMb + " MB limit per file");
      return done(false);
    }
    var data = new FormData();
    data.append("csrfmiddlewaretoken", token);
    var analyse = form.querySelector("input[name=analyse]");
    if (analyse && analyse.checked) data.append("analyse", "on");
    var method = form.querySelector("select[name=method]");
    if (method) data.append("method", method.value);
    if (job.image) data.append("files", job.image, job.image.name);
    if (job.sidecar) data.append("files", job.sidecar, job.sidecar.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.setRequestHeader("Accept", "application/json");
    ui.msg.textContent = "uploading";
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) ui.bar.value = Math.round((e.loaded / e.total) * 95);
    };
    xhr.onload = function () {
      var body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch (err) {
        body = null;
      }
      if (!body || !body.results) {
        finish(ui, "error", main.name + ": the server answered " + xhr.status);
        return done(false);
      }
      // The image's own result decides the row (a refused sidecar is reported in the text).
      var first = body.results.filter(function (r) { return !SIDECAR.test(r.name); })[0] ||
        body.results[0] || { status: "error", message: body.error || "no result" };
      var text = body.results.map(function (r) { return r.message; }).join(" ");
      finish(ui, first.status, text);
      done(first.status === "created");
    };
    xhr.onerror = function () {
      finish(ui, "error", main.name + ": network error, try again");
      done(false);
    };
    xhr.send(data);
  }

  function refreshTable() {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("table[data-testid=micrographs] tbody");
        var old = document.querySelector("table[data-testid=micrographs] tbody");
        if (fresh && old) old.replaceWith(fresh);
        if (window.semwebWatchProgress) window.semwebWatchProgress();
      });
  }

  function uploadAll(files) {
    var jobs = jobsFrom(files);
    var queue = jobs.map(function (job) {
      var main = job.image || job.sidecar;
      var label = main.name + (job.image && job.sidecar ? " + " + job.sidecar.name : "");
      return { job: job, ui: row(label) };
    });
    var running = 0;
    var created = 0;
    var left = queue.length;
    function next() {
      while (running < PARALLEL && queue.length) {
        var item = queue.shift();
        running += 1;
        send(item.job, item.ui, function (ok) {
          running -= 1;
          left -= 1;
          if (ok) created += 1;
          if (left === 0) {
            form.dataset.state = "done";
            if (created) refreshTable();
          }
          next();
        });
      }
    }
    form.dataset.state = "uploading";
    next();
  }

  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (e) {
      e.preventDefault();
      zone.classList.add("over");
    });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function (e) {
      e.preventDefault();
      zone.classList.remove("over");
    });
  });
  zone.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) uploadAll(e.dataTransfer.files);
  });
  input.addEventListener("change", function () {
    if (input.files.length) {
      uploadAll(input.files);
      input.value = "";
    }
  });
  // With JavaScript the button is not needed (choosing files starts the upload), but keep it
  // working for anyone who presses it.
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (input.files.length) uploadAll(input.files);
  });
})();
