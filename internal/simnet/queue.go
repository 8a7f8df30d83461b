package simnet

// envelope is one message on the wire: who sent it to whom, when it is due
// (virtual nanoseconds since the epoch) and its send sequence number, which
// breaks ties between messages due at the same instant.
type envelope[M any] struct {
	due      int64
	seq      uint64
	from, to string
	msg      M
}

// before orders envelopes for delivery: earlier due time first, then earlier
// send.
func (e *envelope[M]) before(o *envelope[M]) bool {
	if e.due != o.due {
		return e.due < o.due
	}
	return e.seq < o.seq
}

// queue is a binary min-heap of envelopes in delivery order. It is written out
// by hand rather than with container/heap so that pushing and popping do not
// box every envelope in an interface.
type queue[M any] struct {
	items []envelope[M]
}

func (q *queue[M]) len() int { return len(q.items) }

// peek returns the next envelope due; the queue must not be empty.
func (q *queue[M]) peek() *envelope[M] { return &q.items[0] }

func (q *queue[M]) push(e envelope[M]) {
	q.items = append(q.items, e)
	q.up(len(q.items) - 1)
}

// pop removes and returns the next envelope due; the queue must not be empty.
func (q *queue[M]) pop() envelope[M] {
	last := len(q.items) - 1
	top := q.items[0]
	q.items[0] = q.items[last]
	q.items[last] = envelope[M]{} // let the message be collected
	q.items = q.items[:last]
	if last > 0 {
		q.down(0)
	}
	return top
}

// removeIf drops every envelope for which drop returns true and returns how
// many it dropped. It costs O(n) and is meant for rare events such as a crash.
func (q *queue[M]) removeIf(drop func(*envelope[M]) bool) int {
	kept := q.items[:0]
	for i := range q.items {
		if !drop(&q.items[i]) {
			kept = append(kept, q.items[i])
		}
	}
	removed := len(q.items) - len(kept)
	clear(q.items[len(kept):])
	q.items = kept
	for i := len(kept)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
	return removed
}

func (q *queue[M]) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !q.items[i].before(&q.items[parent]) {
			return
		}
		q.items[i], q.items[parent] = q.items[parent], q.items[i]
		i = parent
	}
}

func (q *queue[M]) down(i int) {
	n := len(q.items)
	for {
		smallest := i
		if l := 2*i + 1; l < n && q.items[l].before(&q.items[smallest]) {
			smallest = l
		}
		if r := 2*i + 2; r < n && q.items[r].before(&q.items[smallest]) {
			smallest = r
		}
		if smallest == i {
			return
		}
		q.items[i], q.items[smallest] = q.items[smallest], q.items[i]
		i = smallest
	}
}
