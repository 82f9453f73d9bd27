// @ts-check
// ui/qr.js: draw a QR code of a link on a canvas (no images, no data: URLs).

import qrcode from '../../vendor/qrcode.mjs';

/**
 * Draw text as a QR code (error correction M) with a 4-module quiet zone,
 * black on white whatever the page's theme, so phones can read it.
 * @param {HTMLCanvasElement} canvas
 * @param {string} text
 * @param {number} [size] target edge in CSS pixels
 */
export function drawQR(canvas, text, size = 232) {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const modules = qr.getModuleCount() + 8;
  const cell = Math.max(2, Math.floor(size / modules));
  const edge = modules * cell;
  canvas.width = edge;
  canvas.height = edge;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, edge, edge);
  ctx.translate(4 * cell, 4 * cell);
  qr.renderTo2dContext(ctx, cell);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
}
