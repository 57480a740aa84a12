// The aecodec page: uploads pictures to the local server, asks it to code each side of the
// split view, and shows what comes back. Everything the page knows comes from the JSON API
// (docs/web.md); no library, no build step.
"use strict";

// ---------------------------------------------------------------------------------------------
// The JSON API

const BUSY_RETRIES = 60; // seconds, about, that a request waits for a place in a full queue
const UPLOADS_AT_ONCE = 3; // a batch of many files goes up a few at a time

async function call(method, url, body) {
  const options = { method, headers: {} };
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    options.body = body;
    options.headers["content-type"] = "application/octet-stream";
  } else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["content-type"] = "application/json";
  }
  let response;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetch(url, options);
    } catch (error) {
      throw new Error("the server cannot be reached: is `aecodec serve` still running?");
    }
    // 503: the server's queue is full for now; wait a little and ask again.
    if (response.status !== 503 || attempt >= BUSY_RETRIES) break;
    await new Promise((resolve) => setTimeout(resolve, 1000 + 500 * Math.random()));
  }
  const type = response.headers.get("content-type") || "";
  if (!response.ok) {
    const answer = type.includes("json") ? await response.json() : {};
    throw new Error(answer.error || `${response.status} ${response.statusText}`);
  }
  return type.includes("json") ? response.json() : response.blob();
}

// ---------------------------------------------------------------------------------------------
// A split view: two pictures of one size on one stage, zoomed and panned together (so they are
// always in step), the right one clipped at a draggable divider; optionally a mask to paint on.

class SplitView {
  constructor(root, { paint = false } = {}) {
    this.root = root;
    this.paint = paint;
    this.scale = 1; this.tx = 0; this.ty = 0; this.split = 0.5;
    this.width = 0; this.height = 0;
    this.stage = el("div", "stage");
    this.left = el("img", "left");
    this.right = el("img", "right");
    this.left.alt = "left"; this.right.alt = "right";
    this.stage.append(this.left, this.right);
    if (paint) {
      this.mask = el("canvas", "mask");
      this.stage.append(this.mask);
      this.brush = 24;
    }
    this.divider = el("div", "divider");
    this.handle = el("div", "handle");
    this.handle.tabIndex = 0;
    this.handle.setAttribute("role", "slider");
    this.handle.setAttribute("aria-label", "Divider");
    this.divider.append(this.handle);
    this.labels = [el("span", "label left"), el("span", "label right")];
    this.zoomLabel = el("span", "zoom");
    root.append(this.stage, this.divider, ...this.labels, this.zoomLabel);
    this.showRight(!paint);
    this.stage.hidden = true;
    this.listen();
  }

  // A new picture of `width` x `height`: fit it, divider in the middle, mask cleared.
  load(width, height, leftUrl, rightUrl) {
    const resized = width !== this.width || height !== this.height;
    this.width = width; this.height = height;
    this.stage.style.width = width + "px"; this.stage.style.height = height + "px";
    this.set(this.left, leftUrl);
    this.set(this.right, rightUrl);
    if (this.paint) { this.mask.width = width; this.mask.height = height; }
    this.stage.hidden = false;
    const hint = this.root.querySelector(".hint");
    if (hint) hint.hidden = true;
    if (resized) { this.split = 0.5; this.fit(); } else this.apply();
  }

  set(img, url) { if (url && img.getAttribute("src") !== url) img.src = url; }
  setLabels(left, right) { this.labels[0].textContent = left; this.labels[1].textContent = right; }
  showRight(on) {
    this.right.hidden = !on; this.divider.hidden = !on; this.labels[1].hidden = !on;
  }

  fit() {
    const box = this.root.getBoundingClientRect();
    if (!this.width || !box.width) return;
    this.scale = Math.min(box.width / this.width, box.height / this.height, 1) * 0.98;
    this.tx = (box.width - this.width * this.scale) / 2;
    this.ty = (box.height - this.height * this.scale) / 2;
    this.apply();
  }

  zoomAt(x, y, factor) {
    const scale = Math.min(Math.max(this.scale * factor, 0.02), 64);
    this.tx = x - (x - this.tx) * (scale / this.scale);
    this.ty = y - (y - this.ty) * (scale / this.scale);
    this.scale = scale;
    this.apply();
  }

  apply() {
    const box = this.root.getBoundingClientRect();
    this.stage.style.transform = `translate(${this.tx}px, ${this.ty}px) scale(${this.scale})`;
    this.stage.classList.toggle("pixelated", this.scale >= 2);
    // The divider is in the viewer's pixels; the clip is in the picture's.
    const cut = (this.split * box.width - this.tx) / this.scale;
    this.right.style.clipPath = `inset(0 0 0 ${Math.max(0, cut)}px)`;
    this.divider.style.left = `${this.split * 100}%`;
    this.root.dataset.split = this.split.toFixed(3);
    this.handle.setAttribute("aria-valuenow", Math.round(this.split * 100));
    this.zoomLabel.textContent = `${Math.round(this.scale * 100)} %`;
  }

  // Where a pointer is, in the viewer's pixels and in the picture's.
  at(event) {
    const box = this.root.getBoundingClientRect();
    const x = event.clientX - box.left, y = event.clientY - box.top;
    return { x, y, px: (x - this.tx) / this.scale, py: (y - this.ty) / this.scale, box };
  }

  listen() {
    const root = this.root;
    root.addEventListener("wheel", (event) => {
      if (!this.width) return;
      event.preventDefault();
      const { x, y } = this.at(event);
      this.zoomAt(x, y, Math.exp(-event.deltaY * 0.0015));
    }, { passive: false });
    root.addEventListener("dblclick", () => this.fit());
    window.addEventListener("resize", () => this.apply());

    let drag = null;
    root.addEventListener("pointerdown", (event) => {
      if (!this.width || event.button > 1) return;
      const point = this.at(event);
      const onDivider = this.divider.contains(event.target) && !this.divider.hidden;
      const mode = onDivider ? "divider"
        : this.paint && !event.shiftKey && event.button === 0 ? "paint" : "pan";
      drag = { mode, x: point.x, y: point.y, tx: this.tx, ty: this.ty, last: point };
      root.setPointerCapture(event.pointerId);
      root.classList.toggle("panning", mode === "pan");
      if (mode === "paint") this.stroke(point, point);
      event.preventDefault();
    });
    root.addEventListener("pointermove", (event) => {
      if (this.paint) root.classList.toggle("painting", !event.shiftKey);
      if (!drag) return;
      const point = this.at(event);
      if (drag.mode === "divider") {
        this.split = Math.min(Math.max(point.x / point.box.width, 0), 1);
        this.apply();
      } else if (drag.mode === "pan") {
        this.tx = drag.tx + point.x - drag.x;
        this.ty = drag.ty + point.y - drag.y;
        this.apply();
      } else {
        this.stroke(drag.last, point);
        drag.last = point;
      }
    });
    const end = () => { drag = null; root.classList.remove("panning"); };
    root.addEventListener("pointerup", end);
    root.addEventListener("pointercancel", end);
    this.handle.addEventListener("keydown", (event) => {
      const step = { ArrowLeft: -0.02, ArrowRight: 0.02 }[event.key];
      if (step === undefined) return;
      this.split = Math.min(Math.max(this.split + step, 0), 1);
      this.apply();
      event.preventDefault();
    });
  }

  stroke(from, to) {
    const context = this.mask.getContext("2d");
    context.strokeStyle = context.fillStyle = "rgb(255, 0, 90)";
    context.lineWidth = this.brush;
    context.lineCap = "round";
    context.beginPath();
    context.moveTo(from.px, from.py);
    context.lineTo(to.px + 0.01, to.py);
    context.stroke();
    this.painted = true;
    if (this.mask.hidden) this.root.dispatchEvent(new CustomEvent("unhide"));
  }

  clearMask() {
    this.mask.getContext("2d").clearRect(0, 0, this.mask.width, this.mask.height);
    this.painted = false;
  }

  maskBlob() { return new Promise((resolve) => this.mask.toBlob(resolve, "image/png")); }
}

// ---------------------------------------------------------------------------------------------
// The page's state

const state = {
  info: null,
  images: [], // {id, name, width, height, png_url, results: Map(key -> result)} or {failed}
  current: null,
  target: null, // bytes both sides must fit in, or null
  timings: { dropped: null, first: null, both: null }, // for the browser test
};
window.aecodec = state;

const sides = [];
const views = {};

function el(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

function say(message) {
  const box = document.getElementById("message");
  box.querySelector("span").textContent = message;
  box.hidden = !message;
}

const format = {
  bytes: (r) => `${r.bytes.toLocaleString("en-US")} bytes`,
  bpp: (r) => r.bpp.toFixed(3),
  psnr: (r) => (r.psnr === null ? (r.codec === "original" ? "lossless" : "–") : `${r.psnr.toFixed(2)} dB`),
  ms_ssim: (r) => (r.ms_ssim === null ? (r.codec === "original" ? "1" : "–") : r.ms_ssim.toFixed(4)),
  encode_s: (r) => seconds(r.encode_s),
  decode_s: (r) => seconds(r.decode_s),
};

function seconds(s) { return s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(2)} s`; }

// ---------------------------------------------------------------------------------------------
// One side of the comparison: a codec, its setting, its readouts and downloads.

class Side {
  constructor(root, index, codec) {
    this.root = root; this.index = index; this.seq = 0;
    root.append(document.getElementById("side-template").content.cloneNode(true));
    this.codec = root.querySelector(".codec");
    this.slider = root.querySelector(".slider");
    this.number = root.querySelector(".number");
    this.status = root.querySelector(".status");
    for (const spec of state.info.codecs) {
      const option = el("option"); option.value = spec.name; option.textContent = spec.label;
      this.codec.append(option);
    }
    this.codec.value = codec;
    this.codec.addEventListener("change", () => { this.useDefault(); this.refresh(); });
    this.slider.addEventListener("input", () => { this.number.value = this.slider.value; });
    this.slider.addEventListener("change", () => this.refresh());
    this.number.addEventListener("change", () => {
      this.slider.value = this.number.value; this.number.value = this.slider.value; this.refresh();
    });
    this.useDefault();
  }

  get spec() { return state.info.codecs.find((c) => c.name === this.codec.value); }

  useDefault() {
    const setting = this.spec.setting;
    this.root.querySelector(".row.setting").hidden = !setting;
    if (!setting) return;
    this.root.querySelector(".setting-name").textContent = setting.name;
    for (const input of [this.slider, this.number]) {
      input.min = setting.min; input.max = setting.max; input.value = setting.default;
    }
    this.lock();
  }

  lock() { this.slider.disabled = this.number.disabled = state.target !== null; }

  request() {
    const body = { codec: this.codec.value };
    if (state.target !== null) body.size = state.target;
    else if (this.spec.setting) body.setting = Number(this.slider.value);
    return body;
  }

  // Code the current picture as this side asks (results are remembered per picture).
  async refresh() {
    const image = state.current;
    if (!image) return;
    const body = this.request();
    const seq = ++this.seq;
    const key = JSON.stringify(body);
    let result = image.results.get(key);
    if (!result) {
      this.root.classList.add("working");
      this.setStatus(state.target !== null && this.spec.setting ? "fitting the size…" : "coding…");
      try {
        result = await call("POST", `/api/images/${image.id}/compress`, body);
        image.results.set(key, result);
      } catch (error) {
        if (seq === this.seq) {
          this.root.classList.remove("working");
          this.setStatus(error.message, true);
          say(`${image.name}: ${error.message}`);
        }
        return;
      }
    }
    if (seq !== this.seq || image !== state.current) return; // a newer request is on its way
    this.show(result);
  }

  show(result) {
    this.root.classList.remove("working");
    this.setStatus("");
    this.root.dataset.result = result.id;
    for (const [key, text] of Object.entries(format)) {
      this.root.querySelector(`[data-key=${key}]`).textContent = text(result);
    }
    if (state.target !== null && result.setting !== null) {
      this.slider.value = this.number.value = result.setting; // the setting that fits
    }
    this.root.querySelector(".warnings").textContent = result.warnings.join("; ");
    const file = this.root.querySelector(".download-file");
    const png = this.root.querySelector(".download-png");
    file.href = result.file_url; file.download = result.file_name; file.hidden = false;
    file.textContent = `File (${result.file_name.split(".").pop()})`;
    png.href = result.png_url; png.download = result.png_name;
    png.hidden = result.codec === "original";
    const view = views.compare;
    view.set(this.index === 0 ? view.left : view.right, result.png_url);
    const labels = sides.map((side) => side.label());
    view.setLabels(labels[0], labels[1]);
    const now = performance.now();
    if (state.timings.dropped !== null && state.timings.first === null) state.timings.first = now;
    if (sides.every((side) => side.root.dataset.result && !side.root.classList.contains("working"))
        && state.timings.both === null && state.timings.dropped !== null) {
      state.timings.both = now;
    }
  }

  label() {
    const spec = this.spec;
    const setting = spec.setting ? ` ${spec.setting.name} ${this.number.value}` : "";
    return spec.label + setting;
  }

  setStatus(text, error = false) {
    this.status.textContent = text;
    this.status.classList.toggle("error", error);
  }
}

// ---------------------------------------------------------------------------------------------
// Pictures in: upload, list, select

async function open(files) {
  say("");
  state.timings = { dropped: performance.now(), first: null, both: null };
  const list = document.getElementById("batch");
  list.hidden = false;
  const waiting = [...files].map((file) => {
    const item = el("li"); item.textContent = `${file.name} …`; list.append(item);
    return { file, item };
  });
  let shown = false; // the batch's first picture to arrive is shown
  // A few at a time: the server reads each off its event loop, and a batch of hundreds would
  // only fill its queue.
  const lane = async () => {
    while (waiting.length) {
      const image = await upload(waiting.shift());
      if (image && !shown) { shown = true; select(image); }
    }
  };
  await Promise.all(Array.from({ length: UPLOADS_AT_ONCE }, lane));
  document.getElementById("zip").disabled = state.images.length === 0;
}

async function upload({ file, item }) {
  try {
    const image = await call("POST", `/api/images?name=${encodeURIComponent(file.name)}`, file);
    image.results = new Map();
    state.images.push(image);
    item.textContent = `${image.name} · ${image.width}×${image.height}`;
    item.dataset.image = image.id;
    item.addEventListener("click", () => select(image));
    return image;
  } catch (error) {
    item.textContent = `${file.name}: not opened`;
    item.classList.add("failed");
    item.title = error.message;
    say(error.message.includes(file.name) ? error.message : `${file.name}: ${error.message}`);
    return null;
  }
}

function select(image) {
  state.current = image;
  for (const item of document.querySelectorAll("#batch li")) {
    item.classList.toggle("current", item.dataset.image === image.id);
  }
  views.compare.load(image.width, image.height, image.png_url, image.png_url);
  for (const side of sides) {
    delete side.root.dataset.result;
    side.refresh();
  }
  views.denoise.load(image.width, image.height, image.png_url, image.png_url);
  views.denoise.showRight(false);
  views.denoise.setLabels("input", "");
  document.getElementById("denoise-download").hidden = true;
  views.repair.load(image.width, image.height, image.png_url, image.png_url);
  views.repair.clearMask();
  views.repair.showRight(false);
  document.getElementById("repair-download").hidden = true;
}

// Both sides' results for every picture of the batch, then one zip of them all.
async function zipAll() {
  const button = document.getElementById("zip");
  const status = document.getElementById("batch-status");
  button.disabled = true;
  try {
    const ids = [];
    let done = 0;
    for (const image of state.images) {
      for (const side of sides) {
        const body = side.request();
        const key = JSON.stringify(body);
        status.textContent = `coding ${++done} of ${state.images.length * sides.length}…`;
        if (!image.results.has(key)) {
          image.results.set(key, await call("POST", `/api/images/${image.id}/compress`, body));
        }
        ids.push(image.results.get(key).id);
      }
    }
    status.textContent = "zipping…";
    const blob = await call("POST", "/api/zip", { results: ids });
    const link = el("a");
    link.href = URL.createObjectURL(blob); link.download = "aecodec.zip";
    document.body.append(link); link.click(); link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    status.textContent = "";
  } catch (error) {
    status.textContent = "";
    say(`zip: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Restore tabs: denoise, and repair with a painted mask

async function restore(kind) {
  const image = state.current;
  const status = document.getElementById(`${kind}-status`);
  const download = document.getElementById(`${kind}-download`);
  const button = document.getElementById(`${kind}-run`);
  if (!image) { say("open an image first"); return; }
  const view = views[kind];
  let body;
  if (kind === "denoise") {
    const sigma = document.getElementById("sigma").value;
    body = { sigma: sigma === "" ? null : Number(sigma) };
  } else {
    if (!view.painted) { say("paint over the part to repair first"); return; }
    body = await view.maskBlob();
  }
  button.disabled = true;
  status.textContent = kind === "denoise" ? "denoising…" : "repairing…";
  status.classList.remove("error");
  try {
    const result = await call("POST", `/api/images/${image.id}/${kind}`, body);
    if (image !== state.current) return;
    view.set(view.right, result.png_url);
    view.showRight(true);
    view.setLabels("input", result.label.toLowerCase());
    if (kind === "repair") toggleMask(false);
    status.textContent = `${seconds(result.encode_s)}`;
    download.href = result.png_url; download.download = result.file_name; download.hidden = false;
    document.getElementById(`${kind}`).dataset.result = result.id;
  } catch (error) {
    status.textContent = error.message;
    status.classList.add("error");
    say(`${image.name}: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

function toggleMask(on) {
  document.getElementById("mask-show").checked = on;
  views.repair.mask.hidden = !on;
}

// ---------------------------------------------------------------------------------------------
// Start: ask the server what it can do, build the sides, wire the controls.

function showTab(name) {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.tab === name);
  }
  for (const section of document.querySelectorAll("main .tab")) section.hidden = section.id !== name;
  views[name].apply();
  if (views[name].width) views[name].fit();
}

async function start() {
  try {
    state.info = await call("GET", "/api/info");
  } catch (error) {
    say(error.message);
    return;
  }
  const names = state.info.codecs.map((c) => c.name);
  const right = names.includes("jpeg") ? "jpeg" : "original";
  sides.push(new Side(document.getElementById("side-left"), 0, names[0]));
  sides.push(new Side(document.getElementById("side-right"), 1, right));
  views.compare = new SplitView(document.getElementById("compare-view"));
  views.denoise = new SplitView(document.getElementById("denoise-view"));
  views.repair = new SplitView(document.getElementById("repair-view"), { paint: true });
  for (const [kind, present] of Object.entries(state.info.restore)) {
    document.querySelector(`#tabs [data-tab=${kind}]`).hidden = !present;
  }

  for (const button of document.querySelectorAll("#tabs button")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  const input = document.getElementById("files");
  input.addEventListener("change", () => { open(input.files); input.value = ""; });
  document.addEventListener("dragover", (event) => {
    event.preventDefault();
    views.compare.root.classList.add("dropping");
  });
  document.addEventListener("dragleave", () => views.compare.root.classList.remove("dropping"));
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    views.compare.root.classList.remove("dropping");
    if (event.dataTransfer.files.length) open(event.dataTransfer.files);
  });
  document.querySelector("#message button").addEventListener("click", () => say(""));
  document.getElementById("zip").addEventListener("click", zipAll);

  const targetOn = document.getElementById("target-on");
  const targetKb = document.getElementById("target-kb");
  const retarget = () => {
    const kb = Number(targetKb.value);
    state.target = targetOn.checked && kb > 0 ? Math.round(kb * 1000) : null;
    for (const side of sides) { side.lock(); side.refresh(); }
  };
  targetOn.addEventListener("change", retarget);
  targetKb.addEventListener("change", () => { if (targetOn.checked) retarget(); });

  document.getElementById("denoise-run").addEventListener("click", () => restore("denoise"));
  document.getElementById("repair-run").addEventListener("click", () => restore("repair"));
  document.getElementById("mask-clear").addEventListener("click", () => {
    views.repair.clearMask(); toggleMask(true); views.repair.showRight(false);
  });
  views.repair.root.addEventListener("unhide", () => toggleMask(true));
  document.getElementById("mask-show").addEventListener("change", (event) => toggleMask(event.target.checked));
  document.getElementById("brush").addEventListener("input", (event) => {
    views.repair.brush = Number(event.target.value);
  });
  document.body.dataset.ready = "1";
}

start();
