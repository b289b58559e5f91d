package compute

import (
	"sort"
	"sync"
)

// Registry is a set of commands by name: what a pipeline may name. It is a
// value handed to whoever compiles pipelines (the engine, a config check),
// so a test builds its own with its fakes and they never reach what a
// server advertises. compute/builtin returns the registry of every command.
type Registry struct {
	mu   sync.RWMutex
	cmds map[string]*Command // protected by mu
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{cmds: map[string]*Command{}}
}

// Register adds a command; it panics on a duplicate name.
func (r *Registry) Register(c *Command) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.cmds[c.Name]; dup {
		panic("compute: duplicate command " + c.Name)
	}
	r.cmds[c.Name] = c
}

// Lookup returns the command called name.
func (r *Registry) Lookup(name string) (*Command, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.cmds[name]
	return c, ok
}

// Commands returns every command, sorted by name.
func (r *Registry) Commands() []*Command {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Command, 0, len(r.cmds))
	for _, c := range r.cmds {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
