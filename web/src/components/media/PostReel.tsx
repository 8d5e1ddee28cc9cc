// "Post a reel" on a club's page: pick a video (checked as the server would: MP4, WebM or QuickTime, at most
// 100 MB and 60 s), watch it upload and process, write a caption, then `POST /clubs/{id}/reels`.
import { useEffect, useId, useMemo, useState, type FormEvent } from "react";

import { acceptOf, UploadQueue } from "../../lib/media";
import { MAX_CAPTION_CHARS, postReel } from "../../lib/reels";
import { Dialog } from "../Dialog";
import { Button, ErrorAlert, StatusText, inputClass } from "../ui";
import { UploadTray, useUploads } from "./UploadTray";

export function PostReelButton({ clubId, clubName }: { clubId: number; clubName: string }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <Button small variant="secondary" className="shrink-0" aria-haspopup="dialog" onClick={() => setOpen(true)}>
        Post a reel
      </Button>
      {open && <PostReelDialog clubId={clubId} clubName={clubName} onClose={() => setOpen(false)} />}
    </>
  );
}

function PostReelDialog({ clubId, clubName, onClose }: { clubId: number; clubName: string; onClose: () => void }) {
  const queue = useMemo(() => new UploadQueue({ kinds: ["video"], max: 1 }), []);
  // Closing the dialog stops an upload on its way.
  useEffect(() => () => queue.clear(), [queue]);
  const items = useUploads(queue);
  const video = items.find((it) => it.status === "ready")?.media ?? null;
  const [caption, setCaption] = useState("");
  const [posting, setPosting] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [posted, setPosted] = useState(false);
  const fileId = useId();
  const captionId = useId();
  const countId = useId();

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!video || posting) return;
    setPosting(true);
    setError(null);
    try {
      await postReel(clubId, video.id, caption.trim());
      setPosted(true);
      setCaption("");
      queue.clear();
    } catch (err) {
      setError(err);
    } finally {
      setPosting(false);
    }
  }

  return (
    <Dialog open title={`Post a reel to ${clubName}`} onClose={onClose}>
      {posted && <StatusText>Your reel is posted. Members see it in their feed.</StatusText>}
      <form onSubmit={(e) => void submit(e)} className="space-y-3">
        <div className="space-y-1">
          <label htmlFor={fileId} className="block text-sm font-medium text-slate-700">
            Video
          </label>
          <input
            id={fileId}
            type="file"
            accept={acceptOf(["video"])}
            aria-describedby={`${fileId}-hint`}
            onChange={(e) => {
              const file = e.target.files?.[0];
              e.target.value = "";
              if (!file) return;
              setPosted(false);
              queue.clear();
              queue.add([file]);
            }}
            className="block w-full text-sm text-slate-700 file:mr-3 file:rounded file:border file:border-slate-300 file:bg-white file:px-3 file:py-1.5 file:text-sm file:font-medium hover:file:bg-slate-100"
          />
          <p id={`${fileId}-hint`} className="text-xs text-slate-600">
            MP4, WebM or QuickTime; at most 100 MB and 60 seconds.
          </p>
        </div>
        <UploadTray queue={queue} label="Video upload" />
        <div className="space-y-1">
          <label htmlFor={captionId} className="block text-sm font-medium text-slate-700">
            Caption
          </label>
          <textarea
            id={captionId}
            value={caption}
            maxLength={MAX_CAPTION_CHARS}
            onChange={(e) => setCaption(e.target.value)}
            rows={2}
            aria-describedby={countId}
            className={`${inputClass} resize-none`}
          />
          <p id={countId} className="text-right text-xs text-slate-600">
            {caption.length} / {MAX_CAPTION_CHARS}
          </p>
        </div>
        <ErrorAlert error={error} />
        <div className="flex justify-end gap-2">
          <Button variant="secondary" onClick={onClose}>
            {posted ? "Close" : "Cancel"}
          </Button>
          <Button type="submit" disabled={!video || posting}>
            {posting ? "Posting…" : "Post reel"}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
