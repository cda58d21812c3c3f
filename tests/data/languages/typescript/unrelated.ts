export enum Level {
  Debug,
  Info,
  Error,
}

export abstract class Logger {
  constructor(protected readonly minLevel: Level) {}

  protected abstract write(line: string): void;

  log(level: Level, message: string): void {
    if (level < this.minLevel) {
      return;
    }
    const stamp = new Date().toISOString();
    this.write(`${stamp} [${Level[level]}] ${message}`);
  }
}

export class MemoryLogger extends Logger {
  readonly lines: string[] = [];

  protected write(line: string): void {
    this.lines.push(line);
  }
}
