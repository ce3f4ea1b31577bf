/** The 28×28 model input drawn magnified (pixelated), so a person sees exactly what the model sees. */
import { useEffect, useRef } from "react";

export default function PixelPreview({ pixels, size = 140, label }) {
  const ref = useRef(null);
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas) return;
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = pixels ? Math.round(Math.min(1, Math.max(0, pixels[i])) * 255) : 0;
      image.data[i * 4] = v;
      image.data[i * 4 + 1] = v;
      image.data[i * 4 + 2] = v;
      image.data[i * 4 + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
  }, [pixels]);
  return (
    <canvas
      ref={ref}
      width="28"
      height="28"
      className="pixel-preview"
      style={{ width: size, height: size }}
      role="img"
      aria-label={label}
      data-testid="model-input"
    />
  );
}
