package cache

import (
	"sync"
	"time"
)

type entry struct {
	value   []byte
	expires time.Time
}

// TTLCache is a map whose entries expire.
type TTLCache struct {
	mu    sync.Mutex
	items map[string]entry
}

func New() *TTLCache {
	return &TTLCache{items: make(map[string]entry)}
}

func (c *TTLCache) Get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok || time.Now().After(e.expires) {
		delete(c.items, key)
		return nil, false
	}
	return e.value, true
}

func (c *TTLCache) Put(key string, value []byte, ttl time.Duration) {
	c.mu.Lock()
	c.items[key] = entry{value: value, expires: time.Now().Add(ttl)}
	c.mu.Unlock()
}
