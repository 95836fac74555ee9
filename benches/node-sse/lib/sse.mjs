// A Server-Sent Events stream parser: the "interpreting an event stream"
// algorithm of the WHATWG HTML standard (section 9.2.6), fed with decoded
// text as it arrives. The load client runs one per connection, so it keeps
// no per-event state beyond the fields of the event being built.

const LF = 10;
const CR = 13;
const LINE_END = /[\r\n]/g;

export class SseParser {
  /**
   * @param {(event: {type: string, data: string, lastEventId: string}) => void} onEvent
   *   called once per dispatched event
   */
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.pending = ''; // an unfinished line from the previous chunk
    this.skipLeadingLf = false; // the previous chunk ended in CR: a LF now belongs to it
    this.data = '';
    this.hasData = false;
    this.type = '';
    this.lastEventId = '';
    this.retry = null;
  }

  /** Feeds decoded text (use a StringDecoder or `setEncoding('utf8')` upstream). */
  feed(chunk) {
    let text = chunk;
    if (this.skipLeadingLf && text.length > 0) {
      if (text.charCodeAt(0) === LF) text = text.slice(1);
      this.skipLeadingLf = false;
    }
    if (this.pending.length > 0) {
      text = this.pending + text;
      this.pending = '';
    }
    let start = 0;
    LINE_END.lastIndex = 0;
    for (let match = LINE_END.exec(text); match !== null; match = LINE_END.exec(text)) {
      const end = match.index;
      this.line(text.slice(start, end));
      start = end + 1;
      if (text.charCodeAt(end) === CR) {
        if (start === text.length) this.skipLeadingLf = true;
        else if (text.charCodeAt(start) === LF) start++;
      }
      LINE_END.lastIndex = start;
    }
    if (start < text.length) this.pending = text.slice(start);
  }

  line(line) {
    if (line.length === 0) return this.dispatch();
    if (line.charCodeAt(0) === 58 /* ':' */) return; // a comment
    const colon = line.indexOf(':');
    let field = line;
    let value = '';
    if (colon !== -1) {
      field = line.slice(0, colon);
      value = line.slice(line.charCodeAt(colon + 1) === 32 /* ' ' */ ? colon + 2 : colon + 1);
    }
    switch (field) {
      case 'data':
        this.data = this.hasData ? `${this.data}\n${value}` : value;
        this.hasData = true;
        break;
      case 'event':
        this.type = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retry = Number(value);
        break;
      default: // unknown fields are ignored
    }
  }

  dispatch() {
    const { hasData, data, type } = this;
    this.data = '';
    this.hasData = false;
    this.type = '';
    if (!hasData) return;
    this.onEvent({ type: type || 'message', data, lastEventId: this.lastEventId });
  }
}
