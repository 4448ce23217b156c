// vitkit serve's page: one image in, top-5 bars, attention rollout over the image, nearest neighbours.
// Plain JS, no build step; everything goes through the same JSON API as any client.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { info: null, image: null, view: null, layers: null, grid: null };

// a server started with an API key answers /v1/* with 401 until the key is sent: asked once, kept for the tab
const KEY = "vitkit-api-key";

function withKey(options) {
  const key = sessionStorage.getItem(KEY);
  return key ? { ...options, headers: { ...(options.headers || {}), Authorization: `Bearer ${key}` } } : options;
}

async function authFetch(path, options = {}) {
  let res = await fetch(path, withKey(options));
  if (res.status === 401) {
    const key = window.prompt("This server needs its API key:");
    if (key && key.trim()) {
      sessionStorage.setItem(KEY, key.trim());
      res = await fetch(path, withKey(options));
    }
  }
  return res;
}

async function api(path, file) {
  const body = new FormData();
  body.append("image", file, file.name || "image");
  const res = await authFetch(path, { method: "POST", body });
  const json = await res.json();
  if (!res.ok) throw new Error(json.error || res.statusText);
  return json;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function renderTop(predictions) {
  const list = $("top");
  list.replaceChildren();
  for (const p of predictions) {
    const li = document.createElement("li");
    const row = document.createElement("div");
    row.className = "row";
    const name = document.createElement("span");
    name.textContent = p.label;
    const score = document.createElement("span");
    score.textContent = (100 * p.score).toFixed(1) + "%";
    row.append(name, score);
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = (100 * p.score).toFixed(1) + "%";
    li.append(row, bar);
    list.append(li);
  }
}

// the "jet" colour map (as the paper's figures and vitkit inspect use), v in [0, 1]
function jet(v) {
  const c = (x) => Math.round(255 * Math.max(0, Math.min(1, x)));
  return [c(1.5 - Math.abs(4 * v - 3)), c(1.5 - Math.abs(4 * v - 2)), c(1.5 - Math.abs(4 * v - 1))];
}

function drawAttention() {
  const canvas = $("view");
  const ctx = canvas.getContext("2d");
  const img = state.image, v = state.view;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  // the part of the image the model saw (its eval resize + centre crop), stretched as the model sees it
  ctx.drawImage(img, v.left * img.naturalWidth, v.top * img.naturalHeight, v.width * img.naturalWidth,
                v.height * img.naturalHeight, 0, 0, canvas.width, canvas.height);
  if (!state.layers) return;
  const layer = Number($("layer").value);
  const [gh, gw] = state.grid;
  const map = state.layers[layer - 1];
  const small = document.createElement("canvas");
  small.width = gw;
  small.height = gh;
  const pixels = small.getContext("2d").createImageData(gw, gh);
  map.forEach((value, i) => {
    const [r, g, b] = jet(value);
    pixels.data.set([r, g, b, 255], 4 * i);
  });
  small.getContext("2d").putImageData(pixels, 0, 0);
  ctx.save();
  ctx.globalAlpha = Number($("alpha").value) / 100;
  ctx.imageSmoothingEnabled = true;  // bilinear upsampling of the patch grid, like vitkit inspect's figures
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  ctx.restore();
  $("layer-label").textContent = `${layer} of ${state.layers.length}`;
  canvas.dataset.layer = String(layer);
}

function renderAttention(result) {
  state.layers = result.layers;
  state.grid = result.grid;
  state.view = result.view;
  $("layer").max = String(result.num_layers);
  $("layer").value = String(result.num_layers);
  drawAttention();
  $("view").dataset.ready = "true";
}

function renderNeighbors(rows) {
  const list = $("neighbors");
  list.replaceChildren();
  for (const n of rows) {
    const li = document.createElement("li");
    if (n.thumbnail) {
      const img = document.createElement("img");
      if (sessionStorage.getItem(KEY)) {  // an <img src> cannot send the key: fetched, shown from a blob
        authFetch(n.thumbnail).then((r) => r.ok && r.blob()).then((b) => { if (b) img.src = URL.createObjectURL(b); });
      } else {
        img.src = n.thumbnail;
      }
      img.alt = n.path;
      li.append(img);
    }
    const caption = document.createElement("div");
    caption.textContent = `${n.class ?? n.label ?? ""} ${n.score.toFixed(3)}`;
    caption.title = n.path;
    li.append(caption);
    list.append(li);
  }
  $("neighbors-panel").hidden = false;
}

function loadImage(file) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`${file.name}: the browser cannot display this image`));
    img.src = URL.createObjectURL(file);
  });
}

async function analyse(file) {
  showError("");
  document.body.dataset.state = "busy";
  try {
    const wantNeighbors = state.info && state.info.neighbors;
    const [predicted, attention, neighbors] = await Promise.all([
      api("/v1/predict?k=5", file),
      state.info && state.info.attention ? api("/v1/attention", file) : Promise.resolve(null),
      wantNeighbors ? api("/v1/neighbors?k=9", file) : Promise.resolve(null),
    ]);
    renderTop(predicted.predictions[0]);
    $("results").hidden = false;
    state.image = await loadImage(file);
    state.view = { top: 0, left: 0, height: 1, width: 1 };
    state.layers = null;
    if (attention) renderAttention(attention.attention[0]); else drawAttention();
    if (neighbors) renderNeighbors(neighbors.neighbors[0]);
    document.body.dataset.state = "done";
  } catch (e) {
    showError(e.message);
    document.body.dataset.state = "error";
  }
}

async function init() {
  try {
    const res = await authFetch("/v1/model");
    if (!res.ok) throw new Error((await res.json()).error || res.statusText);
    state.info = await res.json();
    const c = state.info.config;
    const size = state.info.transform.image_size.join("×");
    $("model").textContent = `${state.info.checkpoint} · ${state.info.name} · ${state.info.num_classes} classes` +
      ` · ${size} px · ${state.info.backend}` + (c.num_layers ? ` · ${c.num_layers} layers` : "");
  } catch (e) {
    showError(`cannot read /v1/model: ${e.message}`);
  }
  const drop = $("drop");
  $("file").addEventListener("change", (e) => e.target.files[0] && analyse(e.target.files[0]));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) analyse(e.dataTransfer.files[0]);
  });
  $("layer").addEventListener("input", drawAttention);
  $("alpha").addEventListener("input", drawAttention);
  document.body.dataset.state = "idle";
}

init();
