// A Date that serialises like Go's time.Time: RFC 3339 with nanoseconds in JSON, and (through the
// template engine's Date handling) Go's Time.String() in templates.
import { formatRFC3339Nano } from './units.js';

export class GoTime extends Date {
  override toJSON(): string {
    return formatRFC3339Nano(this, undefined, { utc: true });
  }
}
