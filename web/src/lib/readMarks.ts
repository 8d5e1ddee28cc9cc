// The newest message this browser showed a member in a room ("seen"), kept in localStorage: the next
// visit puts "New since you left" before the first later message by someone else. The server's read
// position gives counts only, and a count is zeroed as soon as the room is open.

const key = (userId: number, roomId: number) => `chat-seen:${userId}:${roomId}`;

export function readSeen(userId: number, roomId: number): number | null {
  try {
    const v = Number(localStorage.getItem(key(userId, roomId)));
    return Number.isInteger(v) && v > 0 ? v : null;
  } catch {
    return null; // storage blocked: no divider
  }
}

export function writeSeen(userId: number, roomId: number, seq: number): void {
  try {
    if ((readSeen(userId, roomId) ?? 0) < seq) localStorage.setItem(key(userId, roomId), String(seq));
  } catch {
    // storage blocked or full: the divider is a convenience
  }
}
