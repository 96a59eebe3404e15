// Go's text/tabwriter: cells are terminated by '\t'; the text after a line's last tab is not
// part of any column. A column block is a run of adjacent lines that have a cell in that
// column; its width is the widest cell plus padding, but at least minwidth. Podman aligns its
// tables with tabwriter.NewWriter(w, 12, 2, 2, ' ', 0) (containers/common pkg/report).

export interface TabwriterOptions {
  minwidth: number;
  tabwidth: number;
  padding: number;
  padchar: string;
  /** Go's DiscardEmptyColumns: a column of empty '\v'-terminated cells takes no room. */
  discardEmptyColumns?: boolean;
  /** Go's AlignRight: pad before the text instead of after it. */
  alignRight?: boolean;
}

/** What Podman uses for every table. */
export const PODMAN_TABWRITER: TabwriterOptions = { minwidth: 12, tabwidth: 2, padding: 2, padchar: ' ' };

interface Cell {
  text: string;
  width: number;
  htab: boolean; // terminated by '\t' rather than '\v'
}

function runeCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function splitCells(line: string): Cell[] {
  const cells: Cell[] = [];
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\t' || c === '\v') {
      const text = line.slice(start, i);
      cells.push({ text, width: runeCount(text), htab: c === '\t' });
      start = i + 1;
    }
  }
  const rest = line.slice(start);
  cells.push({ text: rest, width: runeCount(rest), htab: false });
  return cells;
}

/** Aligns tab-separated text the way a Go tabwriter does when flushed. */
export function tabwrite(text: string, opts: TabwriterOptions = PODMAN_TABWRITER): string {
  // A formfeed ends the line and flushes: the next lines start new column blocks.
  return text
    .split('\f')
    .map((chunk) => formatChunk(chunk, opts))
    .join('\n');
}

function formatChunk(text: string, opts: TabwriterOptions): string {
  const lines = text.split('\n').map(splitCells);
  const out: string[] = [];
  const widths: number[] = [];

  const writePadding = (textw: number, cellw: number, useTabs: boolean): void => {
    if (opts.padchar === '\t' || useTabs) {
      if (opts.tabwidth === 0) return;
      cellw = Math.ceil(cellw / opts.tabwidth) * opts.tabwidth;
      out.push('\t'.repeat(Math.ceil((cellw - textw) / opts.tabwidth)));
      return;
    }
    out.push(opts.padchar.repeat(Math.max(cellw - textw, 0)));
  };

  const writeLines = (line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i]!;
      line.forEach((c, j) => {
        const w = j < widths.length ? widths[j]! : undefined;
        if (c.text.length === 0) {
          if (w !== undefined) writePadding(c.width, w, false);
        } else if (opts.alignRight && w !== undefined) {
          writePadding(c.width, w, false);
          out.push(c.text);
        } else {
          out.push(c.text);
          if (w !== undefined) writePadding(c.width, w, false);
        }
      });
      if (i + 1 < lines.length) out.push('\n');
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t]!.length - 1) continue;
      // this line has a cell in this column: a column block starts here
      writeLines(line0, t);
      line0 = t;
      let width = opts.minwidth;
      let discardable = true;
      for (; t < line1; t++) {
        const line = lines[t]!;
        if (column >= line.length - 1) break;
        const c = line[column]!;
        width = Math.max(width, c.width + opts.padding);
        if (c.width > 0 || c.htab) discardable = false;
      }
      if (discardable && opts.discardEmptyColumns) width = 0;
      widths.push(width);
      format(line0, t);
      widths.pop();
      line0 = t;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.join('');
}
