/**
 * A JSON document that is one long array of rows, serialised from each row's JSON kept with the
 * row object. The registry rewrites such documents (the index table, the package catalog) after
 * changing one row of thousands: serialising every unchanged row again held the event loop for
 * tens of milliseconds at ten thousand rows, joining kept bytes takes a copy. The first time (a
 * fresh process keeps nothing yet) it serialises every row, in slices of the event loop's time.
 */
import { TurnBudget } from './turns.ts';

export class KeptJsonArray<Row extends object> {
  private readonly kept = new WeakMap<Row, Buffer>();
  private readonly open: Buffer;
  private readonly close = Buffer.from(']}');
  private static readonly COMMA = Buffer.from(',');

  /** `prefix` is the document up to the array's `[` (`{"format":1,"rows":[`), the array closing the document. */
  constructor(
    prefix: string,
    private readonly encode: (row: Row) => unknown,
  ) {
    this.open = Buffer.from(prefix);
  }

  /** The bytes of the document with these rows: the same as JSON.stringify would write. */
  async serialise(rows: readonly Row[]): Promise<Buffer> {
    const parts: Buffer[] = [this.open];
    const budget = new TurnBudget();
    for (let index = 0; index < rows.length; index++) {
      const row = rows[index]!;
      if ((index & 63) === 0) await budget.pause();
      let json = this.kept.get(row);
      if (json === undefined) this.kept.set(row, (json = Buffer.from(JSON.stringify(this.encode(row)))));
      if (index > 0) parts.push(KeptJsonArray.COMMA);
      parts.push(json);
    }
    parts.push(this.close);
    return Buffer.concat(parts);
  }
}
