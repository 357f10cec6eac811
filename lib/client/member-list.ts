// A room's members kept from <room>/presence: the state in the subscribe reply
// (with the room's sequence number), then the join/leave diffs. A diff whose
// sequence number is not newer than what is known of that user is stale (it
// can arrive late from another server process) and is skipped, so the list ends
// exactly as the server's, from messages of constant size.
//
// A crowded room's state comes in pages of one read (docs/protocol.md, "Pages
// of a crowded room"): the list collects them, holds the diffs that arrive
// meanwhile, and applies them once it has every page, as after a whole state.
import type { PresencePageRequest } from '../protocol';
import type { OnlineUser, PresenceChange } from './types';

export interface PresenceState {
  seq: number;
  members: Array<{ uid: number; user: OnlineUser }>;
  /** Only on a page of a crowded room's state: where it stands in its read. */
  paging?: { count: number; offset: number; next?: number };
}

/** What a state reply leads to: the list changed, the next page is to be asked for, or nothing (a page of another read). */
export type StateStep = { kind: 'changed' } | { kind: 'next'; request: PresencePageRequest } | { kind: 'none' };

export class MemberList {
  private readonly members = new Map<number, OnlineUser>();
  private readonly lastSeq = new Map<number, number>();
  private baseSeq = 0;
  private hasState = false;
  /** The pages of a crowded room's state received so far, while more are to come. */
  private collecting: { seq: number; members: PresenceState['members'] } | null = null;
  /** Set once the list follows <room>/user_list instead (see useUserList). */
  private listFallback = false;
  /** Diffs that came before the state (the subscribe reply), or while its pages come. */
  private readonly early: PresenceChange[] = [];

  /** A whole state, or one page of one. */
  receive(state: PresenceState): StateStep {
    if (this.listFallback) return { kind: 'none' };
    const { paging } = state;
    if (!paging) {
      this.reset(state);
      return { kind: 'changed' };
    }
    if (paging.offset === 0) {
      this.collecting = { seq: state.seq, members: [] };
    } else if (!this.collecting || this.collecting.seq !== state.seq || this.collecting.members.length !== paging.offset) {
      return { kind: 'none' };
    }
    this.collecting.members.push(...state.members);
    if (paging.next !== undefined) return { kind: 'next', request: { seq: state.seq, cursor: paging.next } };
    this.reset({ seq: state.seq, members: this.collecting.members });
    return { kind: 'changed' };
  }

  /** The whole state: the list becomes it, then the diffs held meanwhile apply. */
  private reset(state: PresenceState): void {
    this.collecting = null;
    this.members.clear();
    this.lastSeq.clear();
    this.baseSeq = state.seq;
    for (const { uid, user } of state.members) this.members.set(uid, user);
    this.hasState = true;
    for (const change of this.early.splice(0)) this.apply(change);
  }

  /** Applies a diff; true when the list changed. */
  apply(change: PresenceChange): boolean {
    if (this.listFallback) {
      // Membership comes from <room>/user_list; a diff brings it forward and names the user.
      if (change.event === 'join') this.members.set(change.uid, change.user);
      else this.members.delete(change.uid);
      return true;
    }
    if (!this.hasState || this.collecting) {
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

  /**
   * The fallback when a crowded room's pages could not be collected: the list
   * is each <room>/user_list message's uids, named from every page and diff
   * seen (a user never seen is named by their uid).
   */
  useUserList(uids: readonly number[]): void {
    const known = new Map<number, OnlineUser>();
    for (const { uid, user } of this.collecting?.members ?? []) known.set(uid, user);
    for (const change of this.early) if (change.event === 'join') known.set(change.uid, change.user);
    for (const [uid, user] of this.members) known.set(uid, user);
    this.listFallback = true;
    this.collecting = null;
    this.early.length = 0;
    this.members.clear();
    for (const uid of uids) this.members.set(uid, known.get(uid) ?? { uid, uname: String(uid) });
    this.hasState = true;
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
