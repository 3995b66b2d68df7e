import { createHash } from 'node:crypto';
import type { EventStore } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';

// One session's view of the application's event store (transportOptions.eventStore, for
// resumable SSE streams). The SDK expects a store per transport, but the option is one object
// every session's transport is given, and the SDK names every session's standalone GET stream
// `_GET_stream`: without this view, a client resuming its own GET stream would be replayed the
// events of every other session's, and a Last-Event-ID taken from another session would replay
// that session's events. Here each session's streams are stored under ids of their own, and an
// event id names the session it belongs to: another session's id is refused (400, as an unknown
// id is) before anything is replayed.

const SEP = '~'; // in neither our session ids (s_ + base64url) nor the SDK's stream ids (UUIDs, _GET_stream)

export function sessionEventStore(store: EventStore, sessionId: string): EventStore {
  // Hex only: stores parse their own event ids (the SDK's example store splits them on '_').
  const inner = (streamId: string) =>
    createHash('sha256').update(`${sessionId}\n${streamId}`).digest('hex').slice(0, 32);
  const parse = (eventId: string): { streamId: string; innerId: string } | undefined => {
    const a = eventId.indexOf(SEP);
    const b = a < 0 ? -1 : eventId.indexOf(SEP, a + 1);
    if (b < 0 || eventId.slice(0, a) !== sessionId) return undefined;
    return { streamId: eventId.slice(a + 1, b), innerId: eventId.slice(b + 1) };
  };
  const outer = (streamId: string, innerId: string) => `${sessionId}${SEP}${streamId}${SEP}${innerId}`;
  return {
    async storeEvent(streamId, message) {
      return outer(streamId, await store.storeEvent(inner(streamId), message));
    },
    async getStreamIdForEventId(eventId) {
      return parse(eventId)?.streamId;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const own = parse(lastEventId);
      // The SDK asked getStreamIdForEventId first and answered 400 for an id that is not ours.
      if (!own) throw new Error('event id of another session');
      const replayed = await store.replayEventsAfter(own.innerId, {
        send: (eventId, message) => send(outer(own.streamId, eventId), message),
      });
      // '' (the SDK's example store): the id is no longer known, nothing was replayed.
      if (replayed !== '' && replayed !== inner(own.streamId))
        throw new Error('the event store replayed another stream');
      return own.streamId;
    },
  };
}
