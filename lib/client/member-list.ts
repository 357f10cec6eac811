// A room's members kept from <room>/presence: the state in the subscribe reply
// (with the room's sequence number), then the join/leave diffs. A diff whose
// sequence number is not newer than what is known of that user is stale (it
// can arrive late from another server process) and is skipped, so the list ends
// exactly as the server's, from messages of constant size.
import type { OnlineUser, PresenceChange } from './types';

export interface PresenceState {
  seq: number;
  members: Array<{ uid: number; user: OnlineUser }>;
}

export class MemberList {
  private readonly members = new Map<number, OnlineUser>();
  private readonly lastSeq = new Map<number, number>();
  private baseSeq = 0;
  private hasState = false;
  /** Diffs that came before the state (the subscribe reply) */
  private readonly early: PresenceChange[] = [];

  /** The state from the subscribe reply. */
  reset(state: PresenceState): void {
    this.members.clear();
    this.lastSeq.clear();
    this.baseSeq = state.seq;
    for (const { uid, user } of state.members) this.members.set(uid, user);
    this.hasState = true;
    for (const change of this.early.splice(0)) this.apply(change);
  }

  /** Applies a diff; true when the list changed. */
  apply(change: PresenceChange): boolean {
    if (!this.hasState) {
      this.early.push(change);
      return false;
    }
    const seq = change.seq ?? Number.MAX_SAFE_INTEGER;
    if (seq <= (this.lastSeq.get(change.uid) ?? this.baseSeq)) return false;
    this.lastSeq.set(change.uid, seq);
    if (change.event === 'join') this.members.set(change.uid, change.user);
    else this.members.delete(change.uid);
    return true;
  }

  get ready(): boolean {
    return this.hasState;
  }

  list(): OnlineUser[] {
    return [...this.members.values()];
  }

  uids(): number[] {
    return [...this.members.keys()];
  }
}
