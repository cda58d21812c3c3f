import { EventEmitter } from 'events';

export class RateLimiter extends EventEmitter {
  constructor(perSecond) {
    super();
    this.perSecond = perSecond;
    this.tokens = perSecond;
    this.last = Date.now();
  }

  tryTake() {
    const now = Date.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) {
      this.emit('throttled');
      return false;
    }
    this.tokens -= 1;
    return true;
  }
}

export const debounce = (fn, ms) => {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
};
