package retention

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// DecodeListing reads a GET _snapshot/<repo>/_all response body
// ({"snapshots":[...]}) as it streams in, because a Lambda listing a
// repository with 10,000 snapshots must not hold the body, a generic JSON
// tree and the result in memory at once. Only "snapshot" is required in each
// entry; verbose=false answers (no times, no metadata) decode with zero times
// and nil metadata. Unknown fields are skipped. Values decode as
// encoding/json would decode them into Snapshot's wire form (numbers in
// metadata become float64, invalid UTF-8 becomes U+FFFD, keys match
// case-insensitively); repeated index names share memory.
//
// A body without a "snapshots" array (an error response, a different API) is
// an error rather than an empty listing, so a failed request can never look
// like an empty repository.
func DecodeListing(r io.Reader) ([]Snapshot, error) {
	d := decoder{
		src:    r,
		buf:    make([]byte, 64<<10),
		intern: make(map[string]any, 256),
		cache:  new(internCache),
	}
	snaps := d.listing()
	if d.err != nil {
		return nil, d.err
	}
	return snaps, nil
}

const cacheSlots = 4096

// internCache is a direct-mapped cache of recently interned strings.
type internCache [cacheSlots]struct {
	s string
	v any
}

// maxDepth matches encoding/json's nesting limit.
const maxDepth = 10000

// decoder is a small streaming JSON reader specialised for snapshot listings.
// On the 10,000-entry benchmark listing, encoding/json into the same fields
// needs about seven times the CPU, bytes and allocations (250 ms, 104 MB),
// which alone would break the Lambda's budget. The first error is recorded in err; from
// then on open fails and next reports every container closed, so parsing
// unwinds at once and the parsing methods need no error results.
type decoder struct {
	src   io.Reader
	buf   []byte
	pos   int   // next unread byte in buf
	end   int   // buf[pos:end] is unread input
	off   int64 // stream offset of buf[0], for error messages
	rerr  error // sticky error from src, io.EOF included
	err   error // first decoding error
	depth int

	tmp    []byte // decoded strings and numbers that needed copying
	tmp2   []byte // UTF-8 repair target
	keyBuf []byte // a key kept across a refill

	intern  map[string]any
	cache   *internCache
	arena   []string // backing store carved into Snapshot.Indices
	prevIdx []string // the previous entry's indices
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("retention: snapshot listing: offset %d: %s", d.off+int64(d.pos), fmt.Sprintf(format, args...))
	}
}

// failEOF records why input ran out.
func (d *decoder) failEOF() {
	if d.err != nil {
		return
	}
	if d.rerr == nil || errors.Is(d.rerr, io.EOF) {
		d.fail("unexpected end of input")
		return
	}
	d.err = fmt.Errorf("retention: reading snapshot listing: %w", d.rerr)
}

// ensure makes at least n unread bytes available (n is small), reporting
// false at the end of input or on a read error.
func (d *decoder) ensure(n int) bool {
	stalls := 0
	for d.end-d.pos < n {
		if d.rerr != nil {
			return false
		}
		if d.pos > 0 {
			copy(d.buf, d.buf[d.pos:d.end])
			d.off += int64(d.pos)
			d.end -= d.pos
			d.pos = 0
		}
		m, err := d.src.Read(d.buf[d.end:])
		d.end += m
		switch {
		case err != nil:
			d.rerr = err
		case m == 0:
			if stalls++; stalls > 100 {
				d.rerr = io.ErrNoProgress
			}
		}
	}
	return true
}

// peek skips whitespace and returns the next byte without consuming it. It
// returns 0 when it runs into the end of input or an error (NUL is never
// valid between tokens). The common case is small enough to inline.
func (d *decoder) peek() byte {
	if d.pos < d.end && d.buf[d.pos] > ' ' {
		return d.buf[d.pos]
	}
	return d.peekSlow()
}

func (d *decoder) peekSlow() byte {
	for d.err == nil {
		for d.pos < d.end {
			c := d.buf[d.pos]
			switch c {
			case ' ', '\n', '\r', '\t':
				d.pos++
				continue
			case 0:
				d.fail("unexpected NUL byte")
				return 0
			}
			return c
		}
		if !d.ensure(1) {
			d.failEOF()
		}
	}
	return 0
}

// open consumes the opening byte c of an object or array.
func (d *decoder) open(c byte, what string) bool {
	if got := d.peek(); got != c || d.err != nil {
		d.fail("%s, found %q", what, got)
		return false
	}
	d.pos++
	if d.depth++; d.depth > maxDepth {
		d.fail("nesting deeper than %d", maxDepth)
		return false
	}
	return true
}

// next moves to the following member of an object or array; first is true
// before the first member. It reports true when the container is closed or
// an error is recorded.
func (d *decoder) next(first bool, closer byte) bool {
	c := d.peek()
	if d.err != nil {
		return true
	}
	if c == closer {
		d.pos++
		d.depth--
		return true
	}
	if !first {
		if c != ',' {
			d.fail("expected ',' or %q, found %q", closer, c)
			return true
		}
		d.pos++
	}
	return false
}

// key reads an object key and the colon after it. The result aliases
// internal buffers until the next read.
func (d *decoder) key() []byte {
	if c := d.peek(); c != '"' {
		d.fail("expected a string key, found %q", c)
		return nil
	}
	k := d.str()
	if d.pos < d.end && d.buf[d.pos] == ':' {
		d.pos++
		return k
	}
	// Looking further may refill the buffer k points into.
	d.keyBuf = append(d.keyBuf[:0], k...)
	k = d.keyBuf
	if c := d.peek(); c != ':' {
		d.fail("expected ':' after a key, found %q", c)
		return nil
	}
	d.pos++
	return k
}

// str reads a JSON string whose opening quote is next. The result aliases
// internal buffers until the next read.
func (d *decoder) str() []byte {
	d.pos++
	start := d.pos
	high := false
	buf := d.buf[:d.end]
	for i := start; ; i++ {
		// Skip 8 plain bytes at a time; stop at a word holding a quote, a
		// backslash, a control character or a non-ASCII byte.
		for ; i+8 <= len(buf); i += 8 {
			w := binary.LittleEndian.Uint64(buf[i:])
			if m := (w | hasLess(w, 0x20) | hasByte(w, '"') | hasByte(w, '\\')) & highBits; m != 0 {
				// The lowest flagged byte is exact (borrows only
				// propagate upwards).
				i += bits.TrailingZeros64(m) / 8
				break
			}
		}
		if i >= len(buf) {
			break
		}
		c := buf[i]
		if c == '"' {
			d.pos = i + 1
			s := buf[start:i]
			if high && !utf8.Valid(s) {
				d.tmp2 = appendValidUTF8(d.tmp2[:0], s)
				return d.tmp2
			}
			return s
		}
		if c == '\\' || c < 0x20 {
			break
		}
		if c >= utf8.RuneSelf {
			high = true
		}
	}
	return d.strSlow()
}

const (
	lowBits  = 0x0101010101010101
	highBits = 0x8080808080808080
)

// hasLess sets the high bit of some byte if any byte of w is below n (n <= 128).
func hasLess(w uint64, n byte) uint64 { return (w - lowBits*uint64(n)) &^ w }

// hasByte sets the high bit of some byte if any byte of w equals c.
func hasByte(w uint64, c byte) uint64 {
	x := w ^ lowBits*uint64(c)
	return (x - lowBits) &^ x
}

// strSlow handles escapes and strings that cross a buffer refill.
func (d *decoder) strSlow() []byte {
	out := d.tmp[:0]
	defer func() { d.tmp = out[:0] }()
	high := false
	for {
		if d.pos == d.end && !d.ensure(1) {
			d.failEOF()
			return nil
		}
		c := d.buf[d.pos]
		switch {
		case c == '"':
			d.pos++
			if high && !utf8.Valid(out) {
				d.tmp2 = appendValidUTF8(d.tmp2[:0], out)
				return d.tmp2
			}
			return out
		case c < 0x20:
			d.fail("control character %q in string", c)
			return nil
		case c != '\\':
			if c >= utf8.RuneSelf {
				high = true
			}
			out = append(out, c)
			d.pos++
			continue
		}
		d.pos++
		if !d.ensure(1) {
			d.failEOF()
			return nil
		}
		e := d.buf[d.pos]
		d.pos++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if !d.ensure(4) {
				d.failEOF()
				return nil
			}
			r := hex4(d.buf[d.pos : d.pos+4])
			if r < 0 {
				d.fail("invalid \\u escape")
				return nil
			}
			d.pos += 4
			if utf16.IsSurrogate(r) {
				// Like encoding/json: pair with a following \u escape when
				// that forms a valid pair, else emit U+FFFD and leave the
				// next escape alone.
				r2 := rune(-1)
				if d.ensure(6) && d.buf[d.pos] == '\\' && d.buf[d.pos+1] == 'u' {
					r2 = hex4(d.buf[d.pos+2 : d.pos+6])
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					d.pos += 6
					r = dec
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			d.fail("invalid escape \\%c in string", e)
			return nil
		}
	}
}

// hex4 decodes four hex digits, or returns -1.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendValidUTF8 replaces each invalid byte with U+FFFD, as encoding/json
// does.
func appendValidUTF8(dst, s []byte) []byte {
	for len(s) > 0 {
		r, n := utf8.DecodeRune(s)
		if r == utf8.RuneError && n == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[:n]...)
		}
		s = s[n:]
	}
	return dst
}

// number reads a JSON number token and checks its grammar. The result aliases
// internal buffers until the next read.
func (d *decoder) number() []byte {
	var tok []byte
	i := d.pos
	for i < d.end && isNum(d.buf[i]) {
		i++
	}
	if i < d.end {
		tok = d.buf[d.pos:i]
		d.pos = i
	} else {
		out := d.tmp[:0]
		for d.pos < d.end || d.ensure(1) {
			c := d.buf[d.pos]
			if !isNum(c) {
				break
			}
			out = append(out, c)
			d.pos++
		}
		// End of input ends the number; the caller reports it.
		d.tmp = out
		tok = out
	}
	if !validNumber(tok) {
		d.fail("invalid number %q", tok)
		return nil
	}
	return tok
}

func isNum(c byte) bool {
	return '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// validNumber checks the JSON number grammar.
func validNumber(s []byte) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(s)
}

// literal consumes true, false or null.
func (d *decoder) literal(lit string) {
	for i := 0; i < len(lit); i++ {
		if d.pos == d.end && !d.ensure(1) {
			d.failEOF()
			return
		}
		if d.buf[d.pos] != lit[i] {
			d.fail("invalid literal, expected %q", lit)
			return
		}
		d.pos++
	}
}

// null consumes a null if one is next.
func (d *decoder) null() bool {
	if d.peek() != 'n' {
		return false
	}
	d.literal("null")
	return true
}

// skip consumes any value, checking its syntax.
func (d *decoder) skip() {
	switch c := d.peek(); c {
	case '{':
		if !d.open('{', "") {
			return
		}
		for first := true; !d.next(first, '}'); first = false {
			d.key()
			d.skip()
		}
	case '[':
		if !d.open('[', "") {
			return
		}
		for first := true; !d.next(first, ']'); first = false {
			d.skip()
		}
	case '"':
		d.str()
	case 't':
		d.literal("true")
	case 'f':
		d.literal("false")
	case 'n':
		d.literal("null")
	default:
		if c == '-' || '0' <= c && c <= '9' {
			d.number()
			return
		}
		d.fail("unexpected %q", c)
	}
}

// any decodes a value the way encoding/json decodes into an interface{}.
func (d *decoder) any() any {
	switch c := d.peek(); c {
	case '{':
		return d.object(nil)
	case '[':
		if !d.open('[', "") {
			return nil
		}
		arr := make([]any, 0)
		for first := true; !d.next(first, ']'); first = false {
			arr = append(arr, d.any())
		}
		return arr
	case '"':
		return d.boxed(d.str(), false)
	case 't':
		d.literal("true")
		return true
	case 'f':
		d.literal("false")
		return false
	case 'n':
		d.literal("null")
		return nil
	default:
		if c == '-' || '0' <= c && c <= '9' {
			tok := d.number()
			if d.err != nil {
				return nil
			}
			f, err := strconv.ParseFloat(string(tok), 64)
			if err != nil {
				d.fail("number %s out of range", tok)
				return nil
			}
			return f
		}
		d.fail("unexpected %q", c)
		return nil
	}
}

// object decodes an object into m (allocated if nil), as encoding/json
// decodes into a map[string]any.
func (d *decoder) object(m map[string]any) map[string]any {
	if !d.open('{', "expected an object") {
		return nil
	}
	if m == nil {
		m = make(map[string]any, 4)
	}
	for first := true; !d.next(first, '}'); first = false {
		k := d.string(d.key())
		v := d.any()
		m[k] = v
	}
	return m
}

// string interns short strings: index names, metadata keys and states repeat
// on every entry.
func (d *decoder) string(b []byte) string {
	return d.boxed(b, true).(string)
}

// boxed returns b as a string boxed in an interface, reusing an earlier equal
// one when it can, so repeated names and metadata values share memory and
// need no new box. A direct-mapped cache makes the common hit cheap; exact
// (map-backed) interning is for strings that are known to repeat, so unique
// metadata values (run ids) do not grow the table.
func (d *decoder) boxed(b []byte, exact bool) any {
	if len(b) > 64 {
		return string(b)
	}
	slot := &d.cache[quickHash(b)&(cacheSlots-1)]
	if slot.v != nil && slot.s == string(b) {
		return slot.v
	}
	var v any
	if exact {
		var ok bool
		if v, ok = d.intern[string(b)]; !ok {
			s := string(b)
			v = s
			d.intern[s] = v
		}
	} else {
		v = string(b)
	}
	slot.s, slot.v = v.(string), v
	return v
}

// quickHash mixes the length and three 8-byte windows (start, middle, end) of
// b: enough to tell typical index names apart in O(1). Collisions only cost
// a lookup.
func quickHash(b []byte) uint64 {
	n := len(b)
	var a, m, z uint64
	if n >= 8 {
		a = binary.LittleEndian.Uint64(b)
		m = binary.LittleEndian.Uint64(b[n/2-4:])
		z = binary.LittleEndian.Uint64(b[n-8:])
	} else {
		for i, c := range b {
			a |= uint64(c) << (8 * i)
		}
	}
	h := a ^ bits.RotateLeft64(m, 21) ^ bits.RotateLeft64(z, 42) ^ uint64(n)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}

// optString decodes a string or null (null leaves *dst alone, as in
// encoding/json).
func (d *decoder) optString(dst *string, intern bool, field string) {
	switch c := d.peek(); c {
	case '"':
		b := d.str()
		if d.err != nil {
			return
		}
		if intern {
			*dst = d.string(b)
		} else {
			*dst = string(b)
		}
	case 'n':
		d.literal("null")
	default:
		d.fail("%s: expected a string, found %q", field, c)
	}
}

// optMillis decodes an integer or null (null leaves *dst alone).
func (d *decoder) optMillis(dst *time.Time, field string) {
	c := d.peek()
	if c == 'n' {
		d.literal("null")
		return
	}
	if c != '-' && (c < '0' || c > '9') {
		d.fail("%s: expected an integer, found %q", field, c)
		return
	}
	tok := d.number()
	if d.err != nil {
		return
	}
	n, err := strconv.ParseInt(string(tok), 10, 64)
	if err != nil {
		d.fail("%s: %s is not an integer", field, tok)
		return
	}
	*dst = fromMillis(n)
}

// indices decodes the indices array into a slice carved from an arena, so
// 10,000 entries cost a few dozen allocations. Consecutive entries of a
// listing (sorted by start time) mostly name the same indices in the same
// order, so each name is first compared with the next few names of the
// previous entry's list before it goes through the intern cache.
func (d *decoder) indices() []string {
	if d.null() {
		return nil
	}
	if !d.open('[', "indices: expected an array") {
		return nil
	}
	// Append straight into the arena; move the partial list to a fresh
	// arena when it runs out.
	start := len(d.arena)
	prev, p := d.prevIdx, 0
	for first := true; !d.next(first, ']'); first = false {
		if len(d.arena) == cap(d.arena) {
			n := len(d.arena) - start
			fresh := make([]string, n, max(2*n, 8192))
			copy(fresh, d.arena[start:])
			d.arena, start = fresh, 0
		}
		var s string
		switch c := d.peek(); c {
		case '"':
			b := d.str()
			hit := false
			for q := p; q < len(prev) && q < p+4; q++ {
				if prev[q] == string(b) {
					s, p, hit = prev[q], q+1, true
					break
				}
			}
			if !hit && d.err == nil {
				s = d.string(b)
			}
		case 'n':
			d.literal("null") // as encoding/json: an empty name
		default:
			d.fail("indices: expected a string, found %q", c)
		}
		d.arena = append(d.arena, s)
	}
	n := len(d.arena) - start
	if n == 0 {
		return []string{}
	}
	list := d.arena[start : start+n : start+n]
	d.prevIdx = list
	return list
}

// Field identifiers of the listing.
const (
	fUnknown = iota
	fName
	fUUID
	fState
	fStart
	fEnd
	fMetadata
	fIndices
)

var snapshotFields = [...]struct {
	name string
	id   int
}{
	{"snapshot", fName},
	{"uuid", fUUID},
	{"state", fState},
	{"start_time_in_millis", fStart},
	{"end_time_in_millis", fEnd},
	{"metadata", fMetadata},
	{"indices", fIndices},
}

// snapshotField maps a key to its field. Like encoding/json it falls back to
// a case-insensitive match, but only pays for it on keys that could fold.
func snapshotField(k []byte) int {
	switch string(k) {
	case "snapshot":
		return fName
	case "uuid":
		return fUUID
	case "state":
		return fState
	case "start_time_in_millis":
		return fStart
	case "end_time_in_millis":
		return fEnd
	case "metadata":
		return fMetadata
	case "indices":
		return fIndices
	}
	if !mayFold(k) {
		return fUnknown
	}
	for _, f := range snapshotFields {
		if bytes.EqualFold(k, []byte(f.name)) {
			return f.id
		}
	}
	return fUnknown
}

// mayFold reports whether k could case-fold onto a lowercase ASCII name
// without being equal to it.
func mayFold(k []byte) bool {
	for _, c := range k {
		if 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

func (d *decoder) listing() []Snapshot {
	if !d.open('{', "expected a JSON object") {
		return nil
	}
	var out []Snapshot
	found := false
	for first := true; !d.next(first, '}'); first = false {
		k := d.key()
		if string(k) != "snapshots" && !(mayFold(k) && bytes.EqualFold(k, []byte("snapshots"))) {
			d.skip()
			continue
		}
		if d.null() {
			out, found = nil, false
			continue
		}
		out, found = d.snapshots(), true
	}
	if d.err != nil {
		return nil
	}
	// Only whitespace may follow.
	for {
		for d.pos < d.end {
			switch d.buf[d.pos] {
			case ' ', '\n', '\r', '\t':
				d.pos++
				continue
			}
			d.fail("unexpected data after the listing")
			return nil
		}
		if !d.ensure(1) {
			break
		}
	}
	if !errors.Is(d.rerr, io.EOF) {
		d.failEOF()
		return nil
	}
	if !found {
		d.err = errors.New(`retention: snapshot listing has no "snapshots" array; is this a GET _snapshot/<repo>/_all response?`)
		return nil
	}
	return out
}

// snapshots decodes the array into fixed-size chunks and copies them once
// into an exact-size slice: half the copying and zeroing of append's
// doubling, and no oversized result.
func (d *decoder) snapshots() []Snapshot {
	if !d.open('[', "snapshots: expected an array") {
		return nil
	}
	const chunkLen = 512
	var chunks [][]Snapshot
	cur := make([]Snapshot, 0, 64)
	total := 0
	for first := true; !d.next(first, ']'); first = false {
		if len(cur) == cap(cur) {
			chunks = append(chunks, cur)
			cur = make([]Snapshot, 0, chunkLen)
		}
		cur = append(cur, Snapshot{})
		total++
		d.snapshot(&cur[len(cur)-1])
	}
	if len(chunks) == 0 {
		return cur
	}
	out := make([]Snapshot, 0, total)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return append(out, cur...)
}

func (d *decoder) snapshot(s *Snapshot) {
	if d.null() {
		return
	}
	if !d.open('{', "expected a snapshot object") {
		return
	}
	for first := true; !d.next(first, '}'); first = false {
		switch snapshotField(d.key()) {
		case fName:
			d.optString(&s.Name, false, "snapshot")
		case fUUID:
			d.optString(&s.UUID, false, "uuid")
		case fState:
			d.optString(&s.State, true, "state")
		case fStart:
			d.optMillis(&s.Start, "start_time_in_millis")
		case fEnd:
			d.optMillis(&s.End, "end_time_in_millis")
		case fMetadata:
			if d.null() {
				s.Metadata = nil
			} else if c := d.peek(); c != '{' {
				d.fail("metadata: expected an object, found %q", c)
			} else {
				s.Metadata = d.object(s.Metadata)
			}
		case fIndices:
			s.Indices = d.indices()
		default:
			d.skip()
		}
	}
}
