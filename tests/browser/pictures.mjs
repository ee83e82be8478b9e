// Solid-colour fake cameras for Chromium and a recording's pictures read back through
// GStreamer's tools: which hall a recorded frame shows is told by its colour.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Colours in BT.601 YCbCr (what a Y4M file holds) and the RGB a decoder gives back. */
export const COLOURS = {
  red: { yuv: [81, 90, 240], rgb: [255, 0, 0] },
  blue: { yuv: [41, 240, 110], rgb: [0, 0, 255] },
  green: { yuv: [145, 54, 34], rgb: [0, 255, 0] },
};

/**
 * Writes a Y4M file of one solid colour (Chromium loops it as its fake camera with
 * `--use-file-for-fake-video-capture`); returns its path.
 */
export function solidCamera(colour, width = 320, height = 240) {
  const [y, u, v] = COLOURS[colour].yuv;
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F15:1 Ip A1:1 C420jpeg\n`);
  const luma = Buffer.alloc(width * height, y);
  const chroma = (value) => Buffer.alloc((width / 2) * (height / 2), value);
  const frame = Buffer.concat([Buffer.from("FRAME\n"), luma, chroma(u), chroma(v)]);
  const frames = Array.from({ length: 15 }, () => frame);
  const path = join(mkdtempSync(join(tmpdir(), "hoinghi-camera-")), `${colour}.y4m`);
  writeFileSync(path, Buffer.concat([header, ...frames]));
  return path;
}

/**
 * What GStreamer's discoverer says of a media file: its streams' kinds and its duration
 * in seconds.
 */
export function discover(file) {
  const out = execFileSync("gst-discoverer-1.0", [file], { encoding: "utf8", timeout: 60_000 });
  const kinds = [...out.matchAll(/^\s*(video|audio|subtitles) #\d+/gm)].map((m) => m[1]);
  const d = out.match(/Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/);
  const duration = d ? Number(d[1]) * 3600 + Number(d[2]) * 60 + Number(d[3]) : null;
  return { kinds, duration, text: out };
}

/**
 * The recording's picture once a second, each as its mean RGB: decoded (VP8 in WebM),
 * scaled to 8×8 and sampled at 1 frame/s by GStreamer.
 */
export function framesPerSecond(file) {
  const raw = join(mkdtempSync(join(tmpdir(), "hoinghi-frames-")), "frames.rgb");
  execFileSync(
    "gst-launch-1.0",
    [
      "-q", "filesrc", `location=${file}`, "!", "matroskademux", "!", "vp8dec", "!",
      "videoconvert", "!", "videoscale", "!", "videorate", "!",
      "video/x-raw,format=RGB,width=8,height=8,framerate=1/1", "!", "filesink", `location=${raw}`,
    ],
    { timeout: 120_000 },
  );
  const bytes = readFileSync(raw);
  const size = 8 * 8 * 3;
  const frames = [];
  for (let at = 0; at + size <= bytes.length; at += size) {
    const sum = [0, 0, 0];
    for (let i = at; i < at + size; i += 3) for (let c = 0; c < 3; c++) sum[c] += bytes[i + c];
    frames.push(sum.map((s) => Math.round(s / 64)));
  }
  return frames;
}

/** The name of the colour in COLOURS nearest to `rgb`. */
export function nearestColour(rgb) {
  const distance = (a, b) => a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0);
  return Object.entries(COLOURS).sort(([, a], [, b]) => distance(rgb, a.rgb) - distance(rgb, b.rgb))[0][0];
}
