/**
 * The drawing surface: white ink on black, like MNIST. Pointer Events cover mouse, pen and touch
 * (touch-action: none stops the page from scrolling under a finger). Strokes are kept as point lists so
 * Undo can redraw; a backdrop (an uploaded picture or a sample digit) can sit under them.
 */
import { useEffect, useRef } from "react";

export const CANVAS_CSS_SIZE = 280;
export const LINE_WIDTH = 22;

export function drawStroke(ctx, points) {
  if (!points.length) return;
  ctx.strokeStyle = "#fff";
  ctx.fillStyle = "#fff";
  ctx.lineWidth = LINE_WIDTH;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  if (points.length === 1) {
    ctx.beginPath();
    ctx.arc(points[0].x, points[0].y, LINE_WIDTH / 2, 0, Math.PI * 2);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(points[0].x, points[0].y);
  for (let i = 1; i < points.length; i++) ctx.lineTo(points[i].x, points[i].y);
  ctx.stroke();
}

export default function DrawingCanvas({ canvasRef, strokes, backdrop, onStrokeStart, onDraw, onStrokeEnd, describedBy }) {
  const current = useRef(null);
  const scale = typeof window !== "undefined" ? Math.min(2, Math.max(1, Math.round(window.devicePixelRatio || 1))) : 1;

  useEffect(() => {
    const canvas = canvasRef.current;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, CANVAS_CSS_SIZE, CANVAS_CSS_SIZE);
    if (backdrop) backdrop(ctx, CANVAS_CSS_SIZE);
    for (const stroke of strokes) drawStroke(ctx, stroke);
  }, [strokes, backdrop, scale, canvasRef]);

  function point(event) {
    const rect = canvasRef.current.getBoundingClientRect();
    return {
      x: ((event.clientX - rect.left) / rect.width) * CANVAS_CSS_SIZE,
      y: ((event.clientY - rect.top) / rect.height) * CANVAS_CSS_SIZE,
    };
  }

  function onPointerDown(event) {
    if (event.button !== undefined && event.button > 0) return;
    event.preventDefault();
    canvasRef.current.setPointerCapture?.(event.pointerId);
    current.current = [point(event)];
    onStrokeStart?.();
    drawStroke(canvasRef.current.getContext("2d"), current.current);
  }

  function onPointerMove(event) {
    if (!current.current) return;
    const events = typeof event.nativeEvent.getCoalescedEvents === "function" ? event.nativeEvent.getCoalescedEvents() : [];
    const points = (events.length ? events : [event]).map(point);
    const ctx = canvasRef.current.getContext("2d");
    const last = current.current[current.current.length - 1];
    drawStroke(ctx, [last, ...points]);
    current.current.push(...points);
    onDraw?.();
  }

  function onPointerUp() {
    if (!current.current) return;
    const stroke = current.current;
    current.current = null;
    onStrokeEnd?.(stroke);
  }

  return (
    <canvas
      ref={canvasRef}
      width={CANVAS_CSS_SIZE * scale}
      height={CANVAS_CSS_SIZE * scale}
      className="draw-canvas"
      data-testid="draw-canvas"
      role="img"
      aria-label="Drawing area for a digit. Draw with a mouse, pen or finger; or use Upload an image or a sample digit instead."
      aria-describedby={describedBy}
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={onPointerUp}
      onPointerCancel={onPointerUp}
      onLostPointerCapture={onPointerUp}
    />
  );
}
