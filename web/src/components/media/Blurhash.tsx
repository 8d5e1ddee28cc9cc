import { decode, isBlurhashValid } from "blurhash";
import { useEffect, useRef } from "react";

/** The blurhash's pixels, decoded small (32×32) and stretched by CSS: a placeholder until the picture loads. */
export function BlurhashCanvas({ hash, className = "" }: { hash: string | null | undefined; className?: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas || !hash || !isBlurhashValid(hash).result) return;
    const size = 32;
    try {
      const pixels = decode(hash, size, size);
      const ctx = canvas.getContext("2d");
      if (!ctx) return;
      const image = ctx.createImageData(size, size);
      image.data.set(pixels);
      ctx.putImageData(image, 0, 0);
    } catch {
      // a hash that does not decode: the plain background stays
    }
  }, [hash]);
  return <canvas ref={ref} width={32} height={32} aria-hidden="true" className={className} />;
}
