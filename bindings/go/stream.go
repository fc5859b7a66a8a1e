package inferencekey

/*
#include "inferencekey.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"sync"
)

// Stream is a pull iterator over a streamed answer (Stream[TextChunk]) or a readiness
// stream (Stream[ReadinessEvent]), in the style of bufio.Scanner:
//
//	for s.Next() {
//		fmt.Print(s.Current().Text)
//	}
//	if err := s.Err(); err != nil { … }
//	s.Close()
//
// A stream cut short, an error frame or a stall is an error from Err, never a silent end.
// The stream honours the deadline of the context it was opened with. Close releases the
// connection (also to stop early); it is safe to call more than once.
type Stream[T any] struct {
	mu   sync.Mutex
	h    *C.ik_stream
	cur  T
	err  error
	done bool
}

// TextStream is a streamed chat answer.
type TextStream = Stream[TextChunk]

func newStream[T any](h *C.ik_stream) *Stream[T] {
	s := &Stream[T]{h: h}
	runtime.SetFinalizer(s, (*Stream[T]).Close)
	return s
}

// Next advances to the next item, blocking until it arrives; false at the end or on error.
func (s *Stream[T]) Next() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done || s.h == nil {
		return false
	}
	var out *C.char
	err := ccall(func() C.enum_ik_status { return C.ik_stream_next(s.h, &out) })
	if err != nil {
		s.err, s.done = err, true
		return false
	}
	if out == nil {
		s.done = true
		return false
	}
	var item T
	if err := json.Unmarshal([]byte(takeString(out)), &item); err != nil {
		s.err = &Error{Kind: KindProtocol, Message: "undecodable stream item: " + err.Error(),
			text: "protocol error: undecodable stream item: " + err.Error()}
		s.done = true
		return false
	}
	s.cur = item
	return true
}

// Current is the item the last successful Next produced.
func (s *Stream[T]) Current() T {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Err is the error that ended the stream, or nil after a clean end.
func (s *Stream[T]) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close closes the connection and frees the stream.
func (s *Stream[T]) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h != nil {
		C.ik_stream_free(s.h)
		s.h = nil
	}
	s.done = true
	return nil
}
