/*
 * hotspot.c - Java frames of a HotSpot JVM, named and walked from outside.
 *
 * libjvm.so exports a description of its own structures for the
 * Serviceability Agent: gHotSpotVMStructs (type, field, offset or, for a
 * static field, address), gHotSpotVMTypes (type sizes) and
 * gHotSpotVMIntConstants, each an array whose entry layout is given by
 * companion variables (gHotSpotVMStructEntryFieldNameOffset, ...).  They
 * are read once per JVM, and the few offsets the walk and the names need
 * are kept (struct hs_layout); then, once the JVM has made them, where its
 * interpreter and its code heaps are (struct hs_runtime).
 *
 * The walk (x86_64, as HotSpot's frame::sender does it):
 *  - an interpreter frame keeps its Method* three words below its frame
 *    pointer; its caller's pc and frame pointer are above it, and the
 *    caller's stack pointer (unextended, as a compiled caller needs it) is
 *    one word below;
 *  - code in a code heap is found through the heap's segment map (one byte
 *    per segment: 0xff free, else how many segments back the block starts;
 *    a HeapBlock header, then the CodeBlob); a blob with a frame size
 *    (compiled methods, runtime stubs) is unwound without frame pointers:
 *    the caller's stack pointer is sp + frame_size words, the return
 *    address and the saved frame pointer the two words below it;
 *  - a blob without one (the call stub) keeps a frame pointer.
 * The walk ends at the first pc outside the JVM's code, where the native
 * unwinder takes over again.
 *
 * A captured stack holds, for an interpreted frame, its Method* and the
 * bytecode index of its bcp (the pc, in the interpreter, says nothing),
 * and for compiled code its pc; both are named at query time: a Method*
 * through ConstMethod -> ConstantPool -> pool holder -> Klass::_name, the
 * method's name, signature and source file by their constant pool
 * indices, the line from ConstMethod's compressed line number table; a pc
 * through its CodeBlob: an nmethod's PcDesc for the pc leads to its scope
 * chain in the debug information (innermost first: method, bci, sender),
 * which names the methods inlined there and their lines, then the method
 * compiled.  JDK 17 keeps these sections by pointers and offsets from the
 * nmethod, JDK 25 in separate immutable (PcDescs, scopes) and mutable
 * (metadata) blocks; both are told apart by the fields VMStructs lists.
 *
 * Target memory is read only where it is resident (tmem.c), so tracing
 * never faults a page in; libjvm.so's pages that are neither resident nor
 * swapped (its read-only strings) are read from its file.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hotspot.h"
#include "internal.h"

const char *const hs_sym_names[HS_NSYMS] = {
	[HS_STRUCTS] = "gHotSpotVMStructs",
	[HS_STRUCT_TYPE_NAME] = "gHotSpotVMStructEntryTypeNameOffset",
	[HS_STRUCT_FIELD_NAME] = "gHotSpotVMStructEntryFieldNameOffset",
	[HS_STRUCT_IS_STATIC] = "gHotSpotVMStructEntryIsStaticOffset",
	[HS_STRUCT_OFFSET] = "gHotSpotVMStructEntryOffsetOffset",
	[HS_STRUCT_ADDRESS] = "gHotSpotVMStructEntryAddressOffset",
	[HS_STRUCT_STRIDE] = "gHotSpotVMStructEntryArrayStride",
	[HS_TYPES] = "gHotSpotVMTypes",
	[HS_TYPE_NAME] = "gHotSpotVMTypeEntryTypeNameOffset",
	[HS_TYPE_SIZE] = "gHotSpotVMTypeEntrySizeOffset",
	[HS_TYPE_STRIDE] = "gHotSpotVMTypeEntryArrayStride",
	[HS_INTS] = "gHotSpotVMIntConstants",
	[HS_INT_NAME] = "gHotSpotVMIntConstantEntryNameOffset",
	[HS_INT_VALUE] = "gHotSpotVMIntConstantEntryValueOffset",
	[HS_INT_STRIDE] = "gHotSpotVMIntConstantEntryArrayStride",
};

/* x86_64: the interpreter frame's Method* slot, in words from its fp. */
#define INTERP_METHOD_SLOT (-3)
#define INTERP_SENDER_SP_SLOT (-1)
#define INTERP_BCP_SLOT (-8)
#define MAX_ENTRIES 100000
#define MAX_FRAME_WORDS (1 << 16)

/* Read a word (8 bytes) at ADDR; 0 when unreadable. */
static uint64_t rd_word(hs_read_fn rd, void *arg, uint64_t addr)
{
	uint64_t v = 0;

	return rd(arg, addr, &v, sizeof(v)) < 0 ? 0 : v;
}

/* Read the NUL-terminated string at ADDR into BUF; 0 or -1. */
static int rd_string(hs_read_fn rd, void *arg, uint64_t addr, char *buf, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		if (!addr || rd(arg, addr + i, &buf[i], 1) < 0)
			return -1;
		if (!buf[i])
			return 0;
	}
	return -1;
}

/* One field or type the layout needs; *DST gets its offset (or size). */
struct want {
	const char *type, *field; /* field NULL: the type's size */
	int *dst;
	uint64_t *addr; /* a static field: its address */
	int opt;	/* may be missing: only scopes or lines need it */
};

/* Fill L from the struct, type and int constant tables. */
int hs_layout_read(hs_read_fn rd, void *arg, const uint64_t sym[HS_NSYMS], struct hs_layout *l)
{
	uint64_t v[HS_NSYMS];
	int cm_method = -1, nm_method = -1;
	struct want w[] = {
		{"CodeCache", "_heaps", NULL, &l->cc_heaps, 0},
		{"CodeCache", "_low_bound", NULL, &l->cc_low, 0},
		{"CodeCache", "_high_bound", NULL, &l->cc_high, 0},
		{"AbstractInterpreter", "_code", NULL, &l->interp_code, 0},
		{"StubQueue", "_stub_buffer", &l->stubq_buffer, NULL, 0},
		{"StubQueue", "_buffer_limit", &l->stubq_limit, NULL, 0},
		{"GrowableArrayBase", "_len", &l->ga_len, NULL, 0},
		{"GrowableArray<int>", "_data", &l->ga_data, NULL, 0},
		{"CodeHeap", "_memory", &l->heap_memory, NULL, 0},
		{"CodeHeap", "_segmap", &l->heap_segmap, NULL, 0},
		{"CodeHeap", "_log2_segment_size", &l->heap_log2, NULL, 0},
		{"VirtualSpace", "_low_boundary", &l->vs_low_boundary, NULL, 0},
		{"VirtualSpace", "_high_boundary", &l->vs_high_boundary, NULL, 0},
		{"HeapBlock", NULL, &l->hb_size, NULL, 0},
		{"HeapBlock::Header", "_used", &l->hb_used, NULL, 0},
		{"CodeBlob", "_name", &l->cb_name, NULL, 0},
		{"CodeBlob", "_frame_size", &l->cb_frame_size, NULL, 0},
		{"CodeBlob", "_kind", &l->cb_kind, NULL, 0},
		{"CompiledMethod", "_method", &cm_method, NULL, 0},
		{"nmethod", "_method", &nm_method, NULL, 0},
		{"nmethod", "_compile_id", &l->nm_compile_id, NULL, 1},
		{"Method", "_constMethod", &l->m_const, NULL, 0},
		{"Method", "_access_flags", &l->m_flags, NULL, 0},
		{"ConstMethod", "_constants", &l->cm_constants, NULL, 0},
		{"ConstMethod", "_name_index", &l->cm_name, NULL, 0},
		{"ConstMethod", "_signature_index", &l->cm_sig, NULL, 0},
		{"ConstantPool", "_pool_holder", &l->cp_holder, NULL, 0},
		{"ConstantPool", NULL, &l->cp_size, NULL, 0},
		{"Klass", "_name", &l->k_name, NULL, 0},
		{"Symbol", "_length", &l->sym_length, NULL, 0},
		{"Symbol", "_body", &l->sym_body, NULL, 0},
		{"CodeBlob", "_code_begin", &l->cb_code_begin, NULL, 1},
		{"CodeBlob", "_code_offset", &l->cb_code_offset, NULL, 1},
		{"CodeBlob", "_mutable_data", &l->cb_mutable, NULL, 1},
		{"CodeBlob", "_relocation_size", &l->cb_reloc_size, NULL, 1},
		{"CompiledMethod", "_scopes_data_begin", &l->cm_scopes_data_begin, NULL, 1},
		{"nmethod", "_scopes_pcs_offset", &l->nm_scopes_pcs, NULL, 1},
		{"nmethod", "_dependencies_offset", &l->nm_deps, NULL, 1},
		{"nmethod", "_scopes_data_offset", &l->nm_scopes_data, NULL, 1},
		{"nmethod", "_immutable_data", &l->nm_immutable, NULL, 1},
		{"nmethod", "_metadata_offset", &l->nm_metadata, NULL, 1},
		{"PcDesc", NULL, &l->pcd_size, NULL, 1},
		{"PcDesc", "_pc_offset", &l->pcd_pc, NULL, 1},
		{"PcDesc", "_scope_decode_offset", &l->pcd_scope, NULL, 1},
		{"ConstMethod", "_flags", &l->cm_flags, NULL, 1},
		{"ConstMethod", "_flags._flags", &l->cm_flags_u4, NULL, 1},
		{"ConstMethod", "_code_size", &l->cm_code_size, NULL, 1},
		{"ConstMethod", NULL, &l->cm_size, NULL, 1},
		{"ConstantPool", "_source_file_name_index", &l->cp_source_file, NULL, 1},
	};
	const size_t nw = sizeof(w) / sizeof(w[0]);
	char type[128], field[128];

	memset(l, 0, sizeof(*l));
	for (size_t i = 0; i < nw; i++)
		if (w[i].dst)
			*w[i].dst = -1;
	l->kind_nmethod = -1;
	for (int i = 0; i < HS_NSYMS; i++) {
		/* The table symbols hold a pointer to the array, the others a number. */
		if (!sym[i])
			return -ENOENT;
		v[i] = rd_word(rd, arg, sym[i]);
		if (!v[i] && i != HS_STRUCT_TYPE_NAME && i != HS_TYPE_NAME && i != HS_INT_NAME)
			return -EAGAIN; /* not filled in yet */
	}
	for (uint64_t e = v[HS_STRUCTS], n = 0; n < MAX_ENTRIES; e += v[HS_STRUCT_STRIDE], n++) {
		uint64_t tp = rd_word(rd, arg, e + v[HS_STRUCT_TYPE_NAME]);
		int32_t is_static = 0;

		if (!tp)
			break;
		if (rd_string(rd, arg, tp, type, sizeof(type)) < 0 ||
		    rd_string(rd, arg, rd_word(rd, arg, e + v[HS_STRUCT_FIELD_NAME]), field,
			      sizeof(field)) < 0)
			continue;
		for (size_t i = 0; i < nw; i++) {
			if (!w[i].field || strcmp(w[i].type, type) || strcmp(w[i].field, field))
				continue;
			rd(arg, e + v[HS_STRUCT_IS_STATIC], &is_static, sizeof(is_static));
			if (w[i].addr && is_static)
				*w[i].addr = rd_word(rd, arg, e + v[HS_STRUCT_ADDRESS]);
			else if (w[i].dst && !is_static)
				*w[i].dst = (int)rd_word(rd, arg, e + v[HS_STRUCT_OFFSET]);
		}
	}
	for (uint64_t e = v[HS_TYPES], n = 0; n < MAX_ENTRIES; e += v[HS_TYPE_STRIDE], n++) {
		uint64_t tp = rd_word(rd, arg, e + v[HS_TYPE_NAME]);

		if (!tp)
			break;
		if (rd_string(rd, arg, tp, type, sizeof(type)) < 0)
			continue;
		for (size_t i = 0; i < nw; i++)
			if (!w[i].field && !strcmp(w[i].type, type))
				*w[i].dst = (int)rd_word(rd, arg, e + v[HS_TYPE_SIZE]);
	}
	for (uint64_t e = v[HS_INTS], n = 0; n < MAX_ENTRIES; e += v[HS_INT_STRIDE], n++) {
		uint64_t np = rd_word(rd, arg, e + v[HS_INT_NAME]);
		int32_t val;

		if (!np)
			break;
		if (rd_string(rd, arg, np, type, sizeof(type)) < 0 ||
		    rd(arg, e + v[HS_INT_VALUE], &val, sizeof(val)) < 0)
			continue;
		if (!strcmp(type, "CodeBlobKind::Nmethod"))
			l->kind_nmethod = val;
		else if (!strcmp(type, "ConstMethod::_has_linenumber_table"))
			l->has_lnt = val;
		else if (!strcmp(type, "ConstMethodFlags::_misc_has_linenumber_table"))
			l->has_lnt = val, l->unsigned5 = 1; /* JDK 21 on: 0-free streams too */
	}
	/* JDK 17 keeps the Method* in CompiledMethod, later ones in nmethod. */
	l->nm_method = nm_method >= 0 ? nm_method : cm_method;
	if (l->cb_kind >= 0 && l->kind_nmethod < 0)
		return -ENOENT;
	for (size_t i = 0; i < nw; i++)
		if ((w[i].dst && *w[i].dst < 0 && !w[i].opt && w[i].dst != &l->cb_kind &&
		     w[i].dst != &cm_method &&
		     w[i].dst != &nm_method) ||
		    (w[i].addr && !*w[i].addr))
			return -ENOENT;
	return l->nm_method >= 0 ? 0 : -ENOENT;
}

/* Fill RT from the JVM's statics; -EAGAIN until the JVM has made its code. */
int hs_runtime_read(hs_read_fn rd, void *arg, const struct hs_layout *l, struct hs_runtime *rt)
{
	uint64_t q = rd_word(rd, arg, l->interp_code), heaps, data;
	int32_t limit = 0, len = 0;

	memset(rt, 0, sizeof(*rt));
	rt->cc_lo = rd_word(rd, arg, l->cc_low);
	rt->cc_hi = rd_word(rd, arg, l->cc_high);
	heaps = rd_word(rd, arg, l->cc_heaps);
	if (!q || !rt->cc_lo || rt->cc_hi <= rt->cc_lo || !heaps)
		return -EAGAIN;
	rt->interp_lo = rd_word(rd, arg, q + l->stubq_buffer);
	if (rd(arg, q + l->stubq_limit, &limit, sizeof(limit)) < 0 || !rt->interp_lo || limit <= 0)
		return -EAGAIN;
	rt->interp_hi = rt->interp_lo + (uint64_t)limit;
	if (rd(arg, heaps + l->ga_len, &len, sizeof(len)) < 0 || len <= 0)
		return -EAGAIN;
	data = rd_word(rd, arg, heaps + l->ga_data);
	for (int i = 0; i < len && rt->nheaps < HS_HEAPS; i++) {
		uint64_t h = rd_word(rd, arg, data + 8 * (uint64_t)i);
		int32_t log2 = 0;

		if (!h)
			continue;
		rt->heap[rt->nheaps].lo = rd_word(rd, arg, h + l->heap_memory + l->vs_low_boundary);
		rt->heap[rt->nheaps].hi = rd_word(rd, arg, h + l->heap_memory + l->vs_high_boundary);
		rt->heap[rt->nheaps].segmap = rd_word(rd, arg, h + l->heap_segmap + l->vs_low_boundary);
		if (rd(arg, h + l->heap_log2, &log2, sizeof(log2)) < 0 || log2 < 4 || log2 > 16 ||
		    !rt->heap[rt->nheaps].segmap || rt->heap[rt->nheaps].hi <= rt->heap[rt->nheaps].lo)
			continue;
		rt->heap[rt->nheaps++].log2 = log2;
	}
	return rt->nheaps ? 0 : -EAGAIN;
}

/* Is PC in the JVM's code? */
int hs_in_code(const struct hs_runtime *rt, uint64_t pc)
{
	return rt && ((pc >= rt->cc_lo && pc < rt->cc_hi) || (pc >= rt->interp_lo && pc < rt->interp_hi));
}

/* The CodeBlob holding PC, found through its heap's segment map; 0: none. */
static uint64_t find_blob(hs_read_fn rd, void *arg, const struct hs_layout *l,
			  const struct hs_runtime *rt, uint64_t pc)
{
	for (unsigned i = 0; i < rt->nheaps; i++) {
		uint64_t seg, block;
		unsigned char hops, used = 0;

		if (pc < rt->heap[i].lo || pc >= rt->heap[i].hi)
			continue;
		seg = (pc - rt->heap[i].lo) >> rt->heap[i].log2;
		for (int n = 0; n < 1 << 16; n++) {
			if (rd(arg, rt->heap[i].segmap + seg, &hops, 1) < 0 || hops == 0xff)
				return 0;
			if (!hops)
				break;
			if (hops > seg)
				return 0;
			seg -= hops;
		}
		block = rt->heap[i].lo + (seg << rt->heap[i].log2);
		if (rd(arg, block + (uint64_t)l->hb_used, &used, 1) < 0 || !used)
			return 0;
		return block + (uint64_t)l->hb_size;
	}
	return 0;
}

/* Is the blob at CB an nmethod (a compiled Java method or a native wrapper)? */
static int blob_is_nmethod(hs_read_fn rd, void *arg, const struct hs_layout *l, uint64_t cb)
{
	char name[16];

	if (l->cb_kind >= 0) {
		unsigned char kind;

		return rd(arg, cb + (uint64_t)l->cb_kind, &kind, 1) == 0 && kind == l->kind_nmethod;
	}
	/* Before CodeBlob::_kind, nmethods were made with these names. */
	return rd_string(rd, arg, rd_word(rd, arg, cb + (uint64_t)l->cb_name), name, sizeof(name)) ==
		       0 &&
	       (!strcmp(name, "nmethod") || !strcmp(name, "native nmethod"));
}

/*
 * The bytecode index an interpreter frame at FP of METHOD is at: its bcp
 * less the start of its ConstMethod's bytecodes; -1 when not in them (a
 * native method's frame keeps no bcp).
 */
static int interp_bci(hs_read_fn rd, void *arg, const struct hs_layout *l, uint64_t fp,
		      uint64_t method)
{
	uint64_t bcp, cm, code;
	uint16_t size = 0;

	if (l->cm_code_size < 0 || l->cm_size <= 0)
		return -1;
	bcp = rd_word(rd, arg, fp + 8 * INTERP_BCP_SLOT);
	cm = rd_word(rd, arg, method + (uint64_t)l->m_const);
	code = cm + (uint64_t)l->cm_size;
	if (!cm || bcp < code || rd(arg, cm + (uint64_t)l->cm_code_size, &size, 2) < 0 ||
	    bcp >= code + size)
		return -1;
	return (int)(bcp - code);
}

/* Walk Java frames; see hotspot.h. */
unsigned hs_walk(hs_read_fn rd, void *arg, const struct hs_layout *l, const struct hs_runtime *rt,
		 uint64_t *pc, uint64_t *sp, uint64_t *fp, uint64_t *out, uint64_t *ids,
		 unsigned max)
{
	uint64_t p = *pc, s = *sp, f = *fp;
	unsigned n = 0;

	while (n < max && hs_in_code(rt, p)) {
		uint64_t np, ns, nf, cb, cm;
		int32_t words = 0;

		if (p >= rt->interp_lo && p < rt->interp_hi) {
			uint64_t method = rd_word(rd, arg, f + 8 * INTERP_METHOD_SLOT);

			if (!f || !method || method >> 47)
				break;
			/* interp_bci() reads the same word. */
			if (ids && (cm = rd_word(rd, arg, method + (uint64_t)l->m_const)) && !(cm >> 47))
				ids[n] = HS_FRAME_INTERP_MAKE(cm);
			else if (ids)
				ids[n] = 0;
			out[n++] = HS_INTERP_MAKE(method, interp_bci(rd, arg, l, f, method));
			np = rd_word(rd, arg, f + 8);
			ns = rd_word(rd, arg, f + 8 * INTERP_SENDER_SP_SLOT);
			nf = rd_word(rd, arg, f);
		} else if ((cb = find_blob(rd, arg, l, rt, p))) {
			int32_t cid = -1;

			/* The id is in the header the frame size is read from. */
			if (ids)
				ids[n] = l->nm_compile_id >= 0 && blob_is_nmethod(rd, arg, l, cb) &&
						 rd(arg, cb + (uint64_t)l->nm_compile_id, &cid,
						    sizeof(cid)) == 0 && cid >= 0
					 ? HS_FRAME_NMETHOD_MAKE(cid)
					 : 0;
			out[n++] = p;
			if (rd(arg, cb + (uint64_t)l->cb_frame_size, &words, sizeof(words)) < 0)
				break;
			if (words > 0 && words < MAX_FRAME_WORDS) {
				ns = s + 8 * (uint64_t)words;
				np = rd_word(rd, arg, ns - 8);
				nf = rd_word(rd, arg, ns - 16);
			} else {
				if (!f)
					break;
				np = rd_word(rd, arg, f + 8);
				ns = f + 16;
				nf = rd_word(rd, arg, f);
			}
		} else {
			break;
		}
		/* The stack grows down: a caller's frame is above its callee's. */
		if (!np || ns <= s) {
			p = 0;
			break;
		}
		p = np;
		s = ns;
		f = nf;
	}
	if (n < max && hs_in_code(rt, p))
		p = 0; /* stopped inside Java code: nothing left to unwind */
	*pc = p;
	*sp = s;
	*fp = f;
	return n;
}

/* Append the Symbol at SYM to BUF at *AT, '/' as '.' when DOTS; 0 or -1. */
static int put_symbol(hs_read_fn rd, void *arg, const struct hs_layout *l, uint64_t sym, int dots,
		      char *buf, size_t size, size_t *at)
{
	uint16_t len;
	char body[512];

	if (!sym || rd(arg, sym + (uint64_t)l->sym_length, &len, sizeof(len)) < 0 ||
	    len >= sizeof(body) || rd(arg, sym + (uint64_t)l->sym_body, body, len) < 0)
		return -1;
	for (uint16_t i = 0; i < len; i++) {
		if ((unsigned char)body[i] < 0x20 || body[i] == 0x7f)
			return -1; /* not a name: a stale or wrong pointer */
		if (*at + 1 < size)
			buf[(*at)++] = dots && body[i] == '/' ? '.' : body[i];
	}
	buf[*at < size ? *at : size - 1] = '\0';
	return 0;
}

/* Name the method at METHOD; see hotspot.h. */
int hs_method_name(hs_read_fn rd, void *arg, const struct hs_layout *l, uint64_t method,
		   char *buf, size_t size)
{
	uint64_t cm = rd_word(rd, arg, method + (uint64_t)l->m_const), cp, holder;
	uint16_t name_i, sig_i;
	size_t at = 0;

	if (!size || !cm || !(cp = rd_word(rd, arg, cm + (uint64_t)l->cm_constants)) ||
	    !(holder = rd_word(rd, arg, cp + (uint64_t)l->cp_holder)) ||
	    rd(arg, cm + (uint64_t)l->cm_name, &name_i, 2) < 0 ||
	    rd(arg, cm + (uint64_t)l->cm_sig, &sig_i, 2) < 0)
		return -1;
	if (put_symbol(rd, arg, l, rd_word(rd, arg, holder + (uint64_t)l->k_name), 1, buf, size,
		       &at) < 0 ||
	    at + 1 >= size)
		return -1;
	buf[at++] = '.';
	if (put_symbol(rd, arg, l, rd_word(rd, arg, cp + (uint64_t)l->cp_size + 8ull * name_i), 0, buf,
		       size, &at) < 0 ||
	    put_symbol(rd, arg, l, rd_word(rd, arg, cp + (uint64_t)l->cp_size + 8ull * sig_i), 0, buf,
		       size, &at) < 0)
		return -1;
	return 0;
}

#define ACC_NATIVE 0x0100

/* A compressed stream (debug info, line numbers) in the target at AT. */
struct stream {
	hs_read_fn rd;
	void *arg;
	uint64_t at;
	int unsigned5, bad;
};

/* The next byte of stream S. */
static unsigned st_byte(struct stream *s)
{
	unsigned char b = 0;

	if (s->rd(s->arg, s->at++, &b, 1) < 0)
		s->bad = 1;
	return b;
}

/*
 * The next unsigned int of S, HotSpot's UNSIGNED5 (Pack200) coding: bytes
 * below L end a number, the others carry 6 more bits each, 5 bytes at most.
 * JDK 21 on excludes the byte 0 (every byte is one more, L 191), JDK 17
 * does not (L 192).
 */
static uint32_t st_uint(struct stream *s)
{
	const unsigned x = s->unsigned5 ? 1 : 0, low = 256 - x - 64;
	unsigned b = st_byte(s);
	uint32_t sum;

	if (b < x)
		s->bad = 1;
	sum = b - x;
	if (sum < low)
		return sum;
	for (int i = 1, shift = 6; i < 5; i++, shift += 6) {
		b = st_byte(s);
		if (b < x)
			s->bad = 1;
		sum += (uint32_t)(b - x) << shift;
		if (b < x + low)
			break;
	}
	return sum;
}

/* The next signed int of S (zigzag coded). */
static int32_t st_sint(struct stream *s)
{
	uint32_t v = st_uint(s);

	return (int32_t)(v >> 1) ^ -(int32_t)(v & 1);
}

/*
 * The source line of bytecode index BCI in the ConstMethod at CM, from its
 * compressed line number table (just after its bytecodes: pairs of bci
 * and line deltas, a byte (bci << 3 | line) each or 0xff and two signed
 * ints, ended by 0), as Method::line_number_from_bci() finds it; -1 if none.
 */
static int method_line(hs_read_fn rd, void *arg, const struct hs_layout *l, uint64_t cm, int bci)
{
	struct stream st = {rd, arg, 0, l->unsigned5, 0};
	uint32_t flags = 0;
	uint16_t size = 0;
	int at = 0, line = 0, best_bci = 0, best = -1;

	if (bci < 0 || !l->has_lnt || l->cm_size <= 0 || l->cm_code_size < 0)
		return -1;
	if (l->cm_flags_u4 >= 0) {
		if (rd(arg, cm + (uint64_t)l->cm_flags_u4, &flags, 4) < 0)
			return -1;
	} else {
		uint16_t f16;

		if (l->cm_flags < 0 || rd(arg, cm + (uint64_t)l->cm_flags, &f16, 2) < 0)
			return -1;
		flags = f16;
	}
	if (!(flags & (uint32_t)l->has_lnt) || rd(arg, cm + (uint64_t)l->cm_code_size, &size, 2) < 0 ||
	    bci >= size)
		return -1;
	st.at = cm + (uint64_t)l->cm_size + size;
	for (int n = 0; n < 65536 && !st.bad; n++) {
		unsigned b = st_byte(&st);

		if (!b)
			break;
		if (b == 0xff) {
			at += st_sint(&st);
			line += st_sint(&st);
		} else {
			at += (int)(b >> 3);
			line += (int)(b & 7);
		}
		if (at == bci)
			return st.bad ? -1 : line;
		if (at < bci && at >= best_bci) {
			best_bci = at;
			best = line;
		}
	}
	return st.bad ? -1 : best;
}

/* Name a frame of METHOD at BCI; see hotspot.h. */
int hs_frame_text(hs_read_fn rd, void *arg, const struct hs_layout *l, uint64_t method, int bci,
		  char *buf, size_t size)
{
	uint64_t cm = rd_word(rd, arg, method + (uint64_t)l->m_const), cp, holder;
	uint16_t name_i, sig_i, file_i = 0, flags = 0;
	size_t at = 0;
	int line;

	if (!size || !cm || !(cp = rd_word(rd, arg, cm + (uint64_t)l->cm_constants)) ||
	    !(holder = rd_word(rd, arg, cp + (uint64_t)l->cp_holder)) ||
	    rd(arg, cm + (uint64_t)l->cm_name, &name_i, 2) < 0 ||
	    rd(arg, cm + (uint64_t)l->cm_sig, &sig_i, 2) < 0)
		return -1;
	if (put_symbol(rd, arg, l, rd_word(rd, arg, holder + (uint64_t)l->k_name), 1, buf, size,
		       &at) < 0 ||
	    at + 1 >= size)
		return -1;
	buf[at++] = '.';
	if (put_symbol(rd, arg, l, rd_word(rd, arg, cp + (uint64_t)l->cp_size + 8ull * name_i), 0, buf,
		       size, &at) < 0)
		return -1;
	rd(arg, method + (uint64_t)l->m_flags, &flags, sizeof(flags));
	if (flags & ACC_NATIVE) {
		snprintf(buf + at, size - at, "(Native Method)");
		return 0;
	}
	if ((line = method_line(rd, arg, l, cm, bci)) > 0 && l->cp_source_file >= 0 &&
	    rd(arg, cp + (uint64_t)l->cp_source_file, &file_i, 2) == 0 && file_i && at + 1 < size) {
		size_t mark = at;

		buf[at++] = '(';
		if (put_symbol(rd, arg, l, rd_word(rd, arg, cp + (uint64_t)l->cp_size + 8ull * file_i),
			       0, buf, size, &at) == 0) {
			snprintf(buf + at, size - at, ":%d)", line);
			return 0;
		}
		at = mark;
		buf[at] = '\0';
	}
	return put_symbol(rd, arg, l, rd_word(rd, arg, cp + (uint64_t)l->cp_size + 8ull * sig_i), 0,
			  buf, size, &at);
}

/* Append to BUF at *AT a line "TEXT MARK" (newline-separated); 0 or -1 when full. */
static int put_line(char *buf, size_t size, size_t *at, const char *text, const char *mark)
{
	int n = snprintf(buf + *at, size - *at, "%s%s%s", *at ? "\n" : "", text, mark);

	if (n < 0 || (size_t)n >= size - *at) {
		buf[*at] = '\0';
		return -1;
	}
	*at += (size_t)n;
	return 0;
}

#define MAX_SCOPES 64

/*
 * The frames of the nmethod at CB at PC: its PcDesc for PC (found by
 * bisection: PcDescs are sorted by pc offset), then the scope chain from
 * the PcDesc's decode offset, each scope (sender's decode offset, method
 * as an index into the nmethod's metadata, bci + 1) in the debug info
 * stream.  Where the layout lacks a piece, -1, and the caller names the
 * method compiled alone.
 */
static int nmethod_frames(hs_read_fn rd, void *arg, const struct hs_layout *l, uint64_t cb,
			  uint64_t pc, int exact, char *buf, size_t size)
{
	uint64_t code, pcs, pcs_end, data, meta;
	int32_t off, lo, hi, scope = -1;
	size_t at = 0;
	char text[512];

	if (l->pcd_size <= 0 || l->pcd_pc < 0 || l->pcd_scope < 0 || l->nm_scopes_pcs < 0)
		return -1;
	if (l->cb_code_begin >= 0) { /* JDK 17: pointers, offsets from the blob */
		int32_t a = 0, b = 0;

		if (l->cm_scopes_data_begin < 0 || l->nm_deps < 0 || l->nm_metadata < 0 ||
		    rd(arg, cb + (uint64_t)l->nm_scopes_pcs, &a, 4) < 0 ||
		    rd(arg, cb + (uint64_t)l->nm_deps, &b, 4) < 0 ||
		    rd(arg, cb + (uint64_t)l->nm_metadata, &off, 4) < 0)
			return -1;
		code = rd_word(rd, arg, cb + (uint64_t)l->cb_code_begin);
		pcs = cb + (uint64_t)a;
		pcs_end = cb + (uint64_t)b;
		data = rd_word(rd, arg, cb + (uint64_t)l->cm_scopes_data_begin);
		meta = cb + (uint64_t)off;
	} else if (l->cb_code_offset >= 0 && l->nm_immutable >= 0 && l->nm_scopes_data >= 0 &&
		   l->cb_mutable >= 0 && l->cb_reloc_size >= 0) {
		/* JDK 25: scopes in the immutable data, metadata in the mutable. */
		int32_t c = 0, a = 0, b = 0, reloc = 0;
		uint64_t imm = rd_word(rd, arg, cb + (uint64_t)l->nm_immutable);

		if (rd(arg, cb + (uint64_t)l->cb_code_offset, &c, 4) < 0 ||
		    rd(arg, cb + (uint64_t)l->nm_scopes_pcs, &a, 4) < 0 ||
		    rd(arg, cb + (uint64_t)l->nm_scopes_data, &b, 4) < 0 ||
		    rd(arg, cb + (uint64_t)l->cb_reloc_size, &reloc, 4) < 0 || !imm)
			return -1;
		code = cb + (uint64_t)c;
		pcs = imm + (uint64_t)a;
		pcs_end = data = imm + (uint64_t)b;
		meta = rd_word(rd, arg, cb + (uint64_t)l->cb_mutable) + (uint64_t)reloc;
	} else {
		return -1;
	}
	if (!code || !data || pc < code || pcs_end <= pcs || pc - code > INT32_MAX)
		return -1;
	off = (int32_t)(pc - code);
	/* The first PcDesc whose pc offset is at or after OFF. */
	lo = 0;
	hi = (int32_t)((pcs_end - pcs) / (uint64_t)l->pcd_size);
	while (lo < hi) {
		int32_t mid = lo + (hi - lo) / 2, o;

		if (rd(arg, pcs + (uint64_t)mid * (uint64_t)l->pcd_size + (uint64_t)l->pcd_pc, &o, 4) < 0)
			return -1;
		if (o < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < (int32_t)((pcs_end - pcs) / (uint64_t)l->pcd_size)) {
		uint64_t d = pcs + (uint64_t)lo * (uint64_t)l->pcd_size;
		int32_t o = -1;

		if (rd(arg, d + (uint64_t)l->pcd_pc, &o, 4) < 0 ||
		    rd(arg, d + (uint64_t)l->pcd_scope, &scope, 4) < 0)
			return -1;
		if (exact && o != off)
			scope = -1;
	}
	if (scope <= 0)
		return -1; /* no scope here (0: DebugInformationRecorder's null) */
	for (int n = 0; scope > 0 && n < MAX_SCOPES; n++) {
		struct stream st = {rd, arg, data + (uint64_t)scope, l->unsigned5, 0};
		uint32_t sender = st_uint(&st), index = st_uint(&st);
		int bci = (int)st_uint(&st) - 1; /* InvocationEntryBci is -1 */
		uint64_t method;

		if (st.bad || !index || sender >= (uint32_t)scope)
			return -1; /* a sender is written before its callees */
		method = rd_word(rd, arg, meta + 8ull * (index - 1));
		if (!method || hs_frame_text(rd, arg, l, method, bci, text, sizeof(text)) < 0)
			return -1;
		if (put_line(buf, size, &at, text, sender ? " [inlined]" : " [compiled]") < 0)
			return at ? 0 : -1; /* as many as fit */
		scope = (int32_t)sender;
	}
	return at ? 0 : -1;
}

/* Name the code at PC; see hotspot.h. */
int hs_code_name(hs_read_fn rd, void *arg, const struct hs_layout *l, const struct hs_runtime *rt,
		 uint64_t pc, int exact, char *buf, size_t size)
{
	uint64_t cb, method;
	char name[128];

	if (pc >= rt->interp_lo && pc < rt->interp_hi)
		return snprintf(buf, size, "Interpreter [stub]") < 0 ? -1 : 0;
	/* A return address may be just past its blob: look up the call. */
	if (!(cb = find_blob(rd, arg, l, rt, pc - (exact ? 1 : 0))))
		return -1;
	if (blob_is_nmethod(rd, arg, l, cb) && (method = rd_word(rd, arg, cb + (uint64_t)l->nm_method))) {
		uint16_t flags = 0;

		rd(arg, method + (uint64_t)l->m_flags, &flags, sizeof(flags));
		if (!(flags & ACC_NATIVE) && nmethod_frames(rd, arg, l, cb, pc, exact, buf, size) == 0)
			return 0;
		if (hs_frame_text(rd, arg, l, method, -1, buf, size) == 0) {
			size_t at = strlen(buf);

			snprintf(buf + at, size - at, "%s", flags & ACC_NATIVE ? " [native]" : " [compiled]");
			return 0;
		}
	}
	if (rd_string(rd, arg, rd_word(rd, arg, cb + (uint64_t)l->cb_name), name, sizeof(name)) < 0)
		return -1;
	snprintf(buf, size, "%s [stub]", name);
	return 0;
}

/* What the code at PC is now; see hotspot.h. */
int hs_code_id(hs_read_fn rd, void *arg, const struct hs_layout *l, const struct hs_runtime *rt,
	       uint64_t pc, int exact, struct hs_code_id *id)
{
	int32_t cid;

	id->blob = 0;
	id->compile_id = -1;
	if (pc >= rt->interp_lo && pc < rt->interp_hi)
		return 0; /* the interpreter stays for the JVM's life */
	if (!(id->blob = find_blob(rd, arg, l, rt, pc - (exact ? 1 : 0))))
		return -1;
	if (l->nm_compile_id >= 0 && blob_is_nmethod(rd, arg, l, id->blob)) {
		if (rd(arg, id->blob + (uint64_t)l->nm_compile_id, &cid, sizeof(cid)) < 0)
			return -1;
		id->compile_id = cid;
	}
	return 0;
}

/* A name found: for an interpreted frame (KEY tagged) or for the code ID at pc KEY. */
struct hs_name {
	uint64_t key;
	struct hs_code_id id;
	char *name;
	struct hs_name *next;
};

#define NAME_BUCKETS 1024

struct hs_names {
	struct hs_name *b[NAME_BUCKETS];
};

/* An empty name cache, or NULL. */
struct hs_names *hs_names_new(void)
{
	return calloc(1, sizeof(struct hs_names));
}

/* Free C and its names; accepts NULL. */
void hs_names_free(struct hs_names *c)
{
	if (!c)
		return;
	for (size_t b = 0; b < NAME_BUCKETS; b++) {
		struct hs_name *e, *en;

		for (e = c->b[b]; e; e = en) {
			en = e->next;
			free(e->name);
			free(e);
		}
	}
	free(c);
}

/* The cache entry for KEY and code ID (any code: ID NULL), or NULL. */
static struct hs_name *name_find(struct hs_name *e, uint64_t key, const struct hs_code_id *id)
{
	for (; e; e = e->next)
		if (e->key == key && (!id || (e->id.blob == id->blob &&
					      e->id.compile_id == id->compile_id)))
			return e;
	return NULL;
}

/* The cache entry for KEY of the compilation CID, whatever its blob, or NULL. */
static struct hs_name *name_find_compile(struct hs_name *e, uint64_t key, int64_t cid)
{
	for (; e; e = e->next)
		if (e->key == key && e->id.compile_id == cid)
			return e;
	return NULL;
}

/* Name a frame from the cache or the JVM; see hotspot.h. */
int hs_names_get(struct hs_names *c, hs_read_fn rd, void *arg, const struct hs_layout *l,
		 const struct hs_runtime *rt, int interp, uint64_t value, uint64_t obj, int first,
		 char *buf, size_t size, unsigned *resolved)
{
	uint64_t key = interp ? value | HS_TAG_INTERP : value - (first ? 0 : 1);
	struct hs_name *e, **at = &c->b[(key >> 3) % NAME_BUCKETS];
	struct hs_code_id id = {0, -1};
	int have_id = 0;
	int64_t cid = -1; /* the code taken, as struct hs_code_id has it: compile id ... */
	uint64_t cm = 0;  /* ... or an interpreted frame's ConstMethod* (in id.blob) */
	char name[2048];

	if (interp && HS_FRAME_IS_INTERP(obj))
		cm = HS_FRAME_CONST_METHOD(obj);
	else if (!interp && HS_FRAME_IS_NMETHOD(obj))
		cid = HS_FRAME_COMPILE_ID(obj);
	/* The code the stack was taken in, named before. */
	if ((cid >= 0 && (e = name_find_compile(*at, key, cid))) ||
	    (cm && (e = name_find(*at, key, &(struct hs_code_id){cm, -1})))) {
		snprintf(buf, size, "%s", e->name);
		return 0;
	}
	if (!interp) {
		have_id = hs_code_id(rd, arg, l, rt, value, !first, &id) == 0;
	} else if ((id.blob = rd_word(rd, arg, HS_INTERP_METHOD(value) + (uint64_t)l->m_const))) {
		have_id = 1;
	}
	/* Other code there now: its name is not this frame's. */
	if (cid >= 0 && have_id && id.compile_id != cid) {
		snprintf(buf, size, "[compiled code since freed] 0x%llx", (unsigned long long)value);
		return 0;
	}
	if (cm && have_id && id.blob != cm) {
		snprintf(buf, size, "[interpreted method since freed] Method* 0x%llx",
			 (unsigned long long)HS_INTERP_METHOD(value));
		return 0;
	}
	/*
	 * Cached, and the same code is still there, or, for a frame whose code
	 * was not taken, nothing can be read to say otherwise (its last name
	 * stands; another's cannot stand for code that was taken).
	 */
	if (have_id)
		e = name_find(*at, key, &id);
	else
		e = cid < 0 && !cm ? name_find(*at, key, NULL) : NULL;
	if (e) {
		snprintf(buf, size, "%s", e->name);
		return 0;
	}
	if (interp) {
		if (hs_frame_text(rd, arg, l, HS_INTERP_METHOD(value), HS_INTERP_BCI(value), name,
				  sizeof(name)) < 0)
			return -1;
		size_t n = strlen(name);

		snprintf(name + n, sizeof(name) - n, " [interpreted]");
	} else if (!have_id || hs_code_name(rd, arg, l, rt, value, !first, name, sizeof(name)) < 0) {
		/* A name that failed is retried: the JVM may still be writing it. */
		return -1;
	}
	if (resolved)
		(*resolved)++;
	/*
	 * Code freed and other code put at this pc gets an entry of its own,
	 * newest first: stacks taken in the old code still find its name.
	 */
	if ((e = calloc(1, sizeof(*e))) && (e->name = strdup(name))) {
		e->key = key;
		e->id = id;
		e->next = *at;
		*at = e;
	} else {
		free(e);
	}
	snprintf(buf, size, "%s", name);
	return 0;
}

/*
 * The target side.  A JVM is found by its libjvm.so in the stack table's
 * snapshot; its tables are read once, its runtime ranges as soon as the
 * JVM has made them.  Targets are kept until the session ends: a query may
 * be naming frames of one while the tracer meets a new JVM (an exec).
 */

#define PAGES 16

/*
 * A few pages of target memory, each read once while valid.  Any page may
 * take any slot (a walk's pages, the thread's stack, the segment map and
 * the blobs' headers, often fall at the same address modulo PAGES), the
 * oldest read giving way.
 */
struct hs_pages {
	struct hs_target *t;
	unsigned next; /* the slot the next page read goes to */
	struct {
		uint64_t page;
		int valid;
		unsigned char data[4096];
	} p[PAGES];
};

struct hs_target {
	pid_t pid;
	uint64_t jvm_base; /* libjvm.so's load address */
	int pagemap, file;
	unsigned nloads;
	struct {
		uint64_t vaddr, offset, filesz;
	} loads[OBJECT_LOADS];
	int state; /* 0: tables unread, 1: runtime pending, 2: ready, -1: not a JVM we can read */
	struct hs_layout layout;
	struct hs_runtime rt;
	struct hs_pages walk; /* tracer thread */
	pthread_mutex_t lock; /* the query side: below */
	struct hs_pages query;
	struct hs_names *names; /* NULL: out of memory, nothing cached */
	struct hs_target *next;
};

/* Note in *ARG the kind of a stretch of a page that could not be read. */
static void page_gap(uint64_t off, uint64_t len, unsigned state, void *arg)
{
	unsigned *worst = arg;

	(void)off;
	(void)len;
	if (state != TMEM_ABSENT || *worst == TMEM_PRESENT)
		*worst = state;
}

/* Read LEN bytes at ADDR of T's process: resident pages, or libjvm.so's file. */
static int target_read(void *arg, uint64_t addr, void *buf, size_t len)
{
	struct hs_pages *c = arg;
	struct hs_target *t = c->t;
	unsigned char *out = buf;

	while (len) {
		uint64_t page = addr & ~4095ull;
		size_t slot = 0, in = addr & 4095, n = 4096 - in < len ? 4096 - in : len;

		while (slot < PAGES && !(c->p[slot].valid && c->p[slot].page == page))
			slot++;
		if (slot == PAGES) {
			unsigned gap = TMEM_PRESENT;
			int ok = 0;

			slot = c->next;
			c->next = (c->next + 1) % PAGES;
			c->p[slot].valid = 0;
			if (tmem_read(t->pagemap, t->pid, page, c->p[slot].data, 4096, page_gap, &gap) < 0)
				return -1;
			if (gap == TMEM_PRESENT) {
				ok = 1;
			} else if (gap == TMEM_ABSENT && page >= t->jvm_base) {
				/* Not resident nor swapped: as libjvm.so's file has it. */
				uint64_t va = page - t->jvm_base;

				for (unsigned i = 0; i < t->nloads; i++)
					if (va >= t->loads[i].vaddr &&
					    va + 4096 <= t->loads[i].vaddr + t->loads[i].filesz)
						ok = pread(t->file, c->p[slot].data, 4096,
							   (off_t)(va - t->loads[i].vaddr +
								   t->loads[i].offset)) == 4096;
			}
			if (!ok)
				return -1;
			c->p[slot].page = page;
			c->p[slot].valid = 1;
		}
		memcpy(out, c->p[slot].data + in, n);
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}

/* Forget the pages C holds: the target has run since. */
static void pages_reset(struct hs_pages *c)
{
	for (size_t i = 0; i < PAGES; i++)
		c->p[i].valid = 0;
}

/* Find libjvm.so's exported table symbols in its file FD, relative to its base. */
static int jvm_symbols(int fd, uint64_t sym[HS_NSYMS])
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	Elf *e;
	int found = 0;

	elf_version(EV_CURRENT);
	if (!(e = elf_begin(fd, ELF_C_READ_MMAP, NULL)))
		return -EINVAL;
	while ((scn = elf_nextscn(e, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize ||
		    !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			const char *name;

			if (!gelf_getsym(d, (int)i, &s) || s.st_shndx == SHN_UNDEF ||
			    !(name = elf_strptr(e, sh.sh_link, s.st_name)) || strncmp(name, "gHotSpot", 8))
				continue;
			for (int k = 0; k < HS_NSYMS; k++)
				if (!strcmp(name, hs_sym_names[k]) && !sym[k]) {
					sym[k] = s.st_value;
					found++;
				}
		}
	}
	elf_end(e);
	return found == HS_NSYMS ? 0 : -ENOENT;
}

/* Where object O mapped at region R was loaded; 0: unknown. */
static uint64_t load_base(const struct object *o, const struct region *r)
{
	for (unsigned i = 0; i < o->nloads; i++) {
		uint64_t off = o->loads[i].offset;

		if (r->offset >= (off & ~4095ull) && r->offset < off + o->loads[i].filesz)
			return r->start - r->offset + off - o->loads[i].vaddr;
	}
	return 0;
}

/* A new target for the JVM whose libjvm.so object O is mapped at region R. */
static struct hs_target *target_new(pid_t pid, const struct object *o, const struct region *r)
{
	struct hs_target *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->pid = pid;
	t->pagemap = t->file = -1;
	t->state = -1;
	pthread_mutex_init(&t->lock, NULL);
	t->walk.t = t->query.t = t;
	t->jvm_base = load_base(o, r);
	t->nloads = o->nloads;
	for (unsigned i = 0; i < o->nloads; i++) {
		t->loads[i].vaddr = o->loads[i].vaddr;
		t->loads[i].offset = o->loads[i].offset;
		t->loads[i].filesz = o->loads[i].filesz;
	}
	if (getenv("MEMTRACE_NO_VMSTRUCTS"))
		return t; /* named from the perf map only, as a JVM we cannot read */
	t->pagemap = tmem_open(pid);
	t->file = o->fd >= 0 ? dup(o->fd) : -1;
	if (t->pagemap >= 0 && t->file >= 0 && t->jvm_base)
		t->state = 0;
	return t;
}

/* Read T's tables, then its runtime ranges, as far as they can be now. */
static void target_load(struct hs_target *t)
{
	uint64_t sym[HS_NSYMS] = {0};
	struct hs_runtime rt;
	int ret;

	pages_reset(&t->walk);
	if (t->state == 0) {
		if (jvm_symbols(t->file, sym) < 0) {
			t->state = -1;
			return;
		}
		for (int i = 0; i < HS_NSYMS; i++)
			sym[i] += t->jvm_base;
		ret = hs_layout_read(target_read, &t->walk, sym, &t->layout);
		if (ret == -EAGAIN)
			return;
		t->state = ret < 0 ? -1 : 1;
	}
	if (t->state == 1 && hs_runtime_read(target_read, &t->walk, &t->layout, &rt) == 0) {
		pthread_mutex_lock(&t->lock);
		t->rt = rt;
		t->state = 2;
		pthread_mutex_unlock(&t->lock);
	}
}

/* The JVM of process PID; see hotspot.h. */
struct hs_target *hs_target_get(struct mt_session *s, pid_t pid)
{
	const struct region *r = NULL;
	struct hs_target *t;

	for (size_t i = 0; i < s->stacks.nregions; i++) {
		const struct object *o;
		size_t len;

		if (!s->stacks.regions[i].obj)
			continue;
		o = s->stacks.objects[s->stacks.regions[i].obj];
		len = strlen(o->path);
		if (len >= 10 && !strcmp(o->path + len - 10, "/libjvm.so")) {
			r = &s->stacks.regions[i];
			break;
		}
	}
	if (!r)
		return NULL;
	t = s->hs;
	if (!t || t->pid != pid || t->jvm_base != load_base(s->stacks.objects[r->obj], r)) {
		t = target_new(pid, s->stacks.objects[r->obj], r);
		if (!t)
			return NULL;
		pthread_mutex_lock(&s->lock);
		t->next = s->hs;
		s->hs = t;
		pthread_mutex_unlock(&s->lock);
	}
	if (t->state == 0 || t->state == 1)
		target_load(t);
	return t->state == 2 ? t : NULL;
}

/* Is PC in T's code? */
int hs_target_in_code(const struct hs_target *t, uint64_t pc)
{
	return t && t->state == 2 && hs_in_code(&t->rt, pc);
}

/* Walk a stopped thread's Java frames; see hotspot.h. */
unsigned hs_target_walk(struct hs_target *t, hs_read_fn rd, void *arg, uint64_t *pc,
			uint64_t *sp, uint64_t *fp, uint64_t *out, uint64_t *ids, unsigned max)
{
	if (!rd) {
		pages_reset(&t->walk);
		rd = target_read;
		arg = &t->walk;
	}
	return hs_walk(rd, arg, &t->layout, &t->rt, pc, sp, fp, out, ids, max);
}

/* Name a frame; see hotspot.h. */
int hs_frame_name(struct mt_session *s, int interp, uint64_t value, uint64_t obj, int first,
		  char *buf, size_t size)
{
	uint64_t key = interp ? value : value - (first ? 0 : 1);
	struct hs_target *t;
	int ret = -1;

	pthread_mutex_lock(&s->lock);
	t = s->hs;
	pthread_mutex_unlock(&s->lock);
	/* The newest JVM first: the one a stack was most likely taken in. */
	for (; t && ret < 0; t = t->next) {
		pthread_mutex_lock(&t->lock);
		if (t->state == 2 && (interp || hs_in_code(&t->rt, key)) &&
		    (t->names || (t->names = hs_names_new()))) {
			pages_reset(&t->query);
			ret = hs_names_get(t->names, target_read, &t->query, &t->layout, &t->rt,
					   interp, value, obj, first, buf, size, NULL);
		}
		pthread_mutex_unlock(&t->lock);
	}
	return ret;
}

/* Whether a JVM of PID is read from its structures; see hotspot.h. */
int hs_readable(struct mt_session *s, pid_t pid)
{
	struct hs_target *t;
	int ready = 0;

	pthread_mutex_lock(&s->lock);
	t = s->hs;
	pthread_mutex_unlock(&s->lock);
	/* Targets are only added at the head, and freed with the session. */
	for (; t && !ready; t = t->next) {
		pthread_mutex_lock(&t->lock);
		ready = t->pid == pid && t->state == 2;
		pthread_mutex_unlock(&t->lock);
	}
	return ready;
}

/* Forget every JVM of S. */
void hs_free_all(struct mt_session *s)
{
	struct hs_target *t = s->hs, *next;

	for (; t; t = next) {
		next = t->next;
		hs_names_free(t->names);
		if (t->pagemap >= 0)
			close(t->pagemap);
		if (t->file >= 0)
			close(t->file);
		pthread_mutex_destroy(&t->lock);
		free(t);
	}
	s->hs = NULL;
}
