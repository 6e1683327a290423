/*
 * test_hotspot.c - hotspot.c's pure part on a JVM made in our own memory:
 * VMStructs tables that describe structures laid out here, a code heap
 * with its segment map, an interpreter, a stack of one compiled and one
 * interpreted frame, and the metadata that names a method.  The reader is
 * a plain copy from our address space, failing on address 0.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>

#include "hotspot.h"
#include "unit.h"

static int local_read(void *arg, uint64_t addr, void *buf, size_t len)
{
	if (addr < 4096)
		return -1;
	memcpy(buf, (const void *)(uintptr_t)addr, len);
	return 0;
}

/* The entry layouts, as libjvm.so describes its own. */
struct sentry {
	const char *type, *field;
	int32_t is_static;
	uint64_t offset;
	void *address;
};
struct tentry {
	const char *name;
	uint64_t size;
};
struct ientry {
	const char *name;
	int32_t value;
};

/* The structures, laid out our way. */
struct vspace {
	uint64_t low_boundary, high_boundary;
};
struct codeheap {
	int32_t log2;
	struct vspace memory, segmap;
};
struct garray {
	int32_t len, max;
	void *data;
};
struct stubq {
	uint64_t buffer;
	int32_t limit;
};
struct blob {
	int32_t frame_size;
	const char *name;
	unsigned char kind;
	void *method;
	int32_t compile_id;
};
struct symbol {
	uint16_t length;
	char body[32];
};
struct klass {
	struct symbol *name;
};
struct cpool {
	struct klass *holder;
	void *slots[5]; /* the entries follow the header */
};
struct constmethod {
	struct cpool *constants;
	uint16_t name_index, sig_index;
};
struct method {
	struct constmethod *cm;
	uint16_t flags;
};

#define SEG 6
static unsigned char heap_mem[64 << SEG] __attribute__((aligned(64)));
static unsigned char segmap[64];
static unsigned char interp[256];
static uint64_t stack[32];
static struct codeheap heap;
static struct codeheap *heaps[1] = {&heap};
static struct garray heap_list = {1, 1, heaps};
static struct stubq queue;
static uint64_t cc_low, cc_high, interp_code;
#define SYM(s) {sizeof(s) - 1, s}
static struct symbol sym_class = SYM("com/example/Server"), sym_name = SYM("leakOne"),
		     sym_sig = SYM("(I)Ljava/nio/Buffer;"), sym_run = SYM("run"), sym_v = SYM("()V");
static struct klass klass = {&sym_class};
static struct cpool pool = {&klass, {NULL, &sym_name, &sym_sig, &sym_run, &sym_v}};
static struct constmethod cm_leak = {&pool, 1, 2}, cm_run = {&pool, 3, 4};
static struct method m_leak = {&cm_leak, 0}, m_run = {&cm_run, 0};
static struct garray *heaps_var = &heap_list;
static struct stubq *queue_var = &queue;


#define F(t, f, st, m) {t, f, 0, offsetof(st, m), NULL}
#define S(t, f, a) {t, f, 1, 0, a}
static struct sentry structs[] = {
	S("CodeCache", "_heaps", &heaps_var),
	S("CodeCache", "_low_bound", &cc_low),
	S("CodeCache", "_high_bound", &cc_high),
	S("AbstractInterpreter", "_code", &queue_var),
	F("StubQueue", "_stub_buffer", struct stubq, buffer),
	F("StubQueue", "_buffer_limit", struct stubq, limit),
	F("GrowableArrayBase", "_len", struct garray, len),
	F("GrowableArray<int>", "_data", struct garray, data),
	F("CodeHeap", "_memory", struct codeheap, memory),
	F("CodeHeap", "_segmap", struct codeheap, segmap),
	F("CodeHeap", "_log2_segment_size", struct codeheap, log2),
	F("VirtualSpace", "_low_boundary", struct vspace, low_boundary),
	F("VirtualSpace", "_high_boundary", struct vspace, high_boundary),
	{"HeapBlock::Header", "_used", 0, 8, NULL},
	F("CodeBlob", "_name", struct blob, name),
	F("CodeBlob", "_frame_size", struct blob, frame_size),
	F("CodeBlob", "_kind", struct blob, kind),
	F("nmethod", "_method", struct blob, method),
	F("nmethod", "_compile_id", struct blob, compile_id),
	F("Method", "_constMethod", struct method, cm),
	F("Method", "_access_flags", struct method, flags),
	F("ConstMethod", "_constants", struct constmethod, constants),
	F("ConstMethod", "_name_index", struct constmethod, name_index),
	F("ConstMethod", "_signature_index", struct constmethod, sig_index),
	F("ConstantPool", "_pool_holder", struct cpool, holder),
	F("Klass", "_name", struct klass, name),
	F("Symbol", "_length", struct symbol, length),
	F("Symbol", "_body", struct symbol, body),
	{"Unrelated", "_field", 0, 1234, NULL},
	{NULL, NULL, 0, 0, NULL},
};
static struct tentry types[] = {
	{"HeapBlock", 16},
	{"ConstantPool", offsetof(struct cpool, slots)},
	{"Method", sizeof(struct method)},
	{NULL, 0},
};
static struct ientry ints[] = {
	{"CodeBlobKind::Buffer", 2},
	{"CodeBlobKind::Nmethod", 1},
	{NULL, 0},
};

static void *structs_var = structs, *types_var = types, *ints_var = ints;
static uint64_t lay[HS_NSYMS];

/* Where each table and layout variable is, as libjvm.so's symbols say. */
static void symbols(uint64_t sym[HS_NSYMS])
{
	lay[HS_STRUCT_TYPE_NAME] = offsetof(struct sentry, type);
	lay[HS_STRUCT_FIELD_NAME] = offsetof(struct sentry, field);
	lay[HS_STRUCT_IS_STATIC] = offsetof(struct sentry, is_static);
	lay[HS_STRUCT_OFFSET] = offsetof(struct sentry, offset);
	lay[HS_STRUCT_ADDRESS] = offsetof(struct sentry, address);
	lay[HS_STRUCT_STRIDE] = sizeof(struct sentry);
	lay[HS_TYPE_NAME] = offsetof(struct tentry, name);
	lay[HS_TYPE_SIZE] = offsetof(struct tentry, size);
	lay[HS_TYPE_STRIDE] = sizeof(struct tentry);
	lay[HS_INT_NAME] = offsetof(struct ientry, name);
	lay[HS_INT_VALUE] = offsetof(struct ientry, value);
	lay[HS_INT_STRIDE] = sizeof(struct ientry);
	for (int i = 0; i < HS_NSYMS; i++)
		sym[i] = (uintptr_t)&lay[i];
	sym[HS_STRUCTS] = (uintptr_t)&structs_var;
	sym[HS_TYPES] = (uintptr_t)&types_var;
	sym[HS_INTS] = (uintptr_t)&ints_var;
}

/* A blob at segments 2..5 of the heap; segments 0, 1 and 6.. free. */
static struct blob *make_jvm(void)
{
	struct blob *b = (struct blob *)(heap_mem + (2 << SEG) + 16);

	memset(segmap, 0xff, sizeof(segmap));
	segmap[2] = 0;
	segmap[3] = 1;
	segmap[4] = 2;
	segmap[5] = 3;
	heap_mem[(2 << SEG) + 8] = 1; /* HeapBlock::Header::_used */
	b->frame_size = 4;
	b->name = "nmethod";
	b->kind = 1;
	b->method = &m_leak;
	b->compile_id = 7;
	heap.log2 = SEG;
	heap.memory.low_boundary = (uintptr_t)heap_mem;
	heap.memory.high_boundary = (uintptr_t)heap_mem + sizeof(heap_mem);
	heap.segmap.low_boundary = (uintptr_t)segmap;
	heap.segmap.high_boundary = (uintptr_t)segmap + sizeof(segmap);
	queue.buffer = (uintptr_t)interp;
	queue.limit = sizeof(interp);
	cc_low = (uintptr_t)heap_mem;
	cc_high = (uintptr_t)heap_mem + sizeof(heap_mem);
	interp_code = 0;
	return b;
}

START_TEST(test_layout)
{
	uint64_t sym[HS_NSYMS];
	struct hs_layout l;
	struct hs_runtime rt;

	symbols(sym);
	make_jvm();
	ck_assert_int_eq(hs_layout_read(local_read, NULL, sym, &l), 0);
	ck_assert_int_eq(l.cb_frame_size, offsetof(struct blob, frame_size));
	ck_assert_int_eq(l.nm_method, offsetof(struct blob, method));
	ck_assert_int_eq(l.hb_size, 16);
	ck_assert_int_eq(l.hb_used, 8);
	ck_assert_int_eq(l.cp_size, offsetof(struct cpool, slots));
	ck_assert_int_eq(l.kind_nmethod, 1);
	ck_assert_uint_eq(l.cc_low, (uintptr_t)&cc_low);
	ck_assert_int_eq(hs_runtime_read(local_read, NULL, &l, &rt), 0);
	ck_assert_uint_eq(rt.interp_lo, (uintptr_t)interp);
	ck_assert_uint_eq(rt.interp_hi, (uintptr_t)interp + sizeof(interp));
	ck_assert_uint_eq(rt.nheaps, 1);
	ck_assert_int_eq(rt.heap[0].log2, SEG);
	ck_assert(hs_in_code(&rt, (uintptr_t)heap_mem + 100));
	ck_assert(hs_in_code(&rt, (uintptr_t)interp + 5));
	ck_assert(!hs_in_code(&rt, (uintptr_t)stack));

	/* A JVM that has not made its interpreter yet: try again later. */
	queue_var = NULL;
	ck_assert_int_eq(hs_runtime_read(local_read, NULL, &l, &rt), -EAGAIN);
	queue_var = &queue;
	/* A layout without a field the walk needs is refused. */
	structs[0].field = "_heaps_renamed";
	ck_assert_int_eq(hs_layout_read(local_read, NULL, sym, &l), -ENOENT);
	structs[0].field = "_heaps";
}
END_TEST

START_TEST(test_walk_and_names)
{
	uint64_t sym[HS_NSYMS], out[8], pc, sp, fp;
	uint64_t ids[8];
	struct hs_layout l;
	struct hs_runtime rt;
	char name[256];
	unsigned n;

	symbols(sym);
	make_jvm();
	ck_assert_int_eq(hs_layout_read(local_read, NULL, sym, &l), 0);
	ck_assert_int_eq(hs_runtime_read(local_read, NULL, &l, &rt), 0);
	/* A compiled frame of 4 words, no frame pointer of its own (fp is junk)... */
	memset(stack, 0, sizeof(stack));
	stack[3] = (uintptr_t)interp + 100;   /* its return address, into the interpreter */
	stack[2] = (uintptr_t)&stack[10];     /* the fp it saved: the interpreter frame's */
	/* ... called from an interpreted frame, called from native code. */
	stack[10 - 3] = (uintptr_t)&m_run;    /* Method* */
	stack[10 - 1] = (uintptr_t)&stack[14]; /* sender sp */
	stack[10] = (uintptr_t)&stack[20];    /* caller's fp */
	stack[11] = 0x12345678;	      /* caller's pc: outside the JVM's code */
	pc = (uintptr_t)heap_mem + (4 << SEG) + 10;
	sp = (uintptr_t)&stack[0];
	fp = 0x42;
	n = hs_walk(local_read, NULL, &l, &rt, &pc, &sp, &fp, out, ids, 8);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(out[0], (uintptr_t)heap_mem + (4 << SEG) + 10);
	ck_assert_uint_eq(out[1], HS_TAG_INTERP | (uintptr_t)&m_run);
	/* The nmethod's compile id and the interpreted method's ConstMethod*, read at the walk. */
	ck_assert_uint_eq(ids[0], HS_FRAME_NMETHOD_MAKE(7));
	ck_assert_int_eq(HS_FRAME_COMPILE_ID(ids[0]), 7);
	ck_assert_uint_eq(ids[1], HS_FRAME_INTERP_MAKE((uintptr_t)&cm_run));
	ck_assert(HS_FRAME_IS_INTERP(ids[1]));
	ck_assert_uint_eq(HS_FRAME_CONST_METHOD(ids[1]), (uintptr_t)&cm_run);
	ck_assert_uint_eq(pc, 0x12345678);
	ck_assert_uint_eq(sp, (uintptr_t)&stack[14]);
	ck_assert_uint_eq(fp, (uintptr_t)&stack[20]);
	/* The same walk without ids. */
	pc = (uintptr_t)heap_mem + (4 << SEG) + 10;
	sp = (uintptr_t)&stack[0];
	fp = 0x42;
	ck_assert_uint_eq(hs_walk(local_read, NULL, &l, &rt, &pc, &sp, &fp, out, NULL, 8), 2);

	/* At most MAX entries. */
	pc = (uintptr_t)heap_mem + (4 << SEG) + 10;
	sp = (uintptr_t)&stack[0];
	ck_assert_uint_eq(hs_walk(local_read, NULL, &l, &rt, &pc, &sp, &fp, out, NULL, 1), 1);

	/* A pc in a free part of the heap: no frame, and nothing to go on with. */
	pc = (uintptr_t)heap_mem + (7 << SEG);
	sp = (uintptr_t)&stack[0];
	ck_assert_uint_eq(hs_walk(local_read, NULL, &l, &rt, &pc, &sp, &fp, out, NULL, 8), 0);
	ck_assert_uint_eq(pc, 0);

	ck_assert_int_eq(hs_method_name(local_read, NULL, &l, (uintptr_t)&m_run, name, sizeof(name)),
			 0);
	ck_assert_str_eq(name, "com.example.Server.run()V");
	ck_assert_int_eq(hs_code_name(local_read, NULL, &l, &rt, out[0], 1, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(I)Ljava/nio/Buffer; [compiled]");
	m_leak.flags = 0x0100; /* ACC_NATIVE: a native method's wrapper */
	ck_assert_int_eq(hs_code_name(local_read, NULL, &l, &rt, out[0], 0, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(Native Method) [native]");
	m_leak.flags = 0;
	/* Other code: the JVM's own name for it. */
	((struct blob *)(heap_mem + (2 << SEG) + 16))->kind = 2;
	((struct blob *)(heap_mem + (2 << SEG) + 16))->name = "StubRoutines (1)";
	ck_assert_int_eq(hs_code_name(local_read, NULL, &l, &rt, out[0], 1, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "StubRoutines (1) [stub]");
	/* A buffer too small fails, and is never overrun. */
	memset(name, 'x', sizeof(name));
	ck_assert_int_eq(hs_method_name(local_read, NULL, &l, (uintptr_t)&m_run, name, 12), -1);
	ck_assert_str_eq(name, "com.example");
	/* A pointer that is no Method* fails rather than naming garbage. */
	ck_assert_int_eq(hs_method_name(local_read, NULL, &l, 8, name, sizeof(name)), -1);
}
END_TEST

/* A ConstMethod with its bytecodes and a compressed line number table after it. */
struct lcm {
	struct lpool *constants;
	uint16_t name_index, sig_index, code_size;
	uint32_t flags;
	unsigned char code[8];
	unsigned char table[16];
};
struct lpool {
	struct klass *holder;
	uint16_t source;
	void *slots[6];
};

static struct symbol sym_file = SYM("Server.java");

/* Lines from the compressed table, in JDK 21's coding and in JDK 17's. */
START_TEST(test_lines)
{
	/* Pairs (bci, line): (0, 10) escaped, (3, 12) in a byte, (4, 312) escaped, 2 bytes. */
	static const unsigned char u5[] = {0xff, 1, 21, 3 << 3 | 2, 0xff, 3, 217, 7, 0};
	static const unsigned char old[] = {0xff, 0, 20, 3 << 3 | 2, 0xff, 2, 216, 6, 0};
	struct lpool lp = {&klass, 5, {NULL, &sym_name, &sym_sig, NULL, NULL, &sym_file}};
	struct lcm c = {&lp, 1, 2, 8, 1, {0}, {0}};
	struct method m = {(struct constmethod *)&c, 0};
	struct hs_layout l;
	char name[128];

	memset(&l, 0xff, sizeof(l)); /* every offset -1: unknown */
	l.m_const = offsetof(struct method, cm);
	l.m_flags = offsetof(struct method, flags);
	l.cm_constants = offsetof(struct lcm, constants);
	l.cm_name = offsetof(struct lcm, name_index);
	l.cm_sig = offsetof(struct lcm, sig_index);
	l.cm_code_size = offsetof(struct lcm, code_size);
	l.cm_flags_u4 = offsetof(struct lcm, flags);
	l.cm_size = offsetof(struct lcm, code);
	l.cp_holder = offsetof(struct lpool, holder);
	l.cp_size = offsetof(struct lpool, slots);
	l.cp_source_file = offsetof(struct lpool, source);
	l.k_name = offsetof(struct klass, name);
	l.sym_length = offsetof(struct symbol, length);
	l.sym_body = offsetof(struct symbol, body);
	l.has_lnt = 1;
	l.unsigned5 = 1;
	memcpy(c.table, u5, sizeof(u5));
	ck_assert_int_eq(hs_frame_text(local_read, NULL, &l, (uintptr_t)&m, 0, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(Server.java:10)");
	ck_assert_int_eq(hs_frame_text(local_read, NULL, &l, (uintptr_t)&m, 2, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(Server.java:10)");
	ck_assert_int_eq(hs_frame_text(local_read, NULL, &l, (uintptr_t)&m, 3, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(Server.java:12)");
	ck_assert_int_eq(hs_frame_text(local_read, NULL, &l, (uintptr_t)&m, 7, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(Server.java:312)");
	/* JDK 17's coding of the same table, with the 16-bit flags. */
	l.unsigned5 = 0;
	l.cm_flags = l.cm_flags_u4;
	l.cm_flags_u4 = -1;
	memcpy(c.table, old, sizeof(old));
	ck_assert_int_eq(hs_frame_text(local_read, NULL, &l, (uintptr_t)&m, 7, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(Server.java:312)");
	/* No bci, no table, a bci past the code, no source file: the signature. */
	ck_assert_int_eq(hs_frame_text(local_read, NULL, &l, (uintptr_t)&m, -1, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(I)Ljava/nio/Buffer;");
	c.flags = 4;
	ck_assert_int_eq(hs_frame_text(local_read, NULL, &l, (uintptr_t)&m, 3, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(I)Ljava/nio/Buffer;");
	c.flags = 1;
	ck_assert_int_eq(hs_frame_text(local_read, NULL, &l, (uintptr_t)&m, 8, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(I)Ljava/nio/Buffer;");
	lp.source = 0;
	ck_assert_int_eq(hs_frame_text(local_read, NULL, &l, (uintptr_t)&m, 3, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(I)Ljava/nio/Buffer;");
	/* A native method, as Java prints it. */
	m.flags = 0x0100;
	ck_assert_int_eq(hs_frame_text(local_read, NULL, &l, (uintptr_t)&m, -1, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(Native Method)");
}
END_TEST

/*
 * A compiled pc named, its nmethod freed and another compiled at the same
 * address: the name cache gives the new method's name, not the old one.
 */
START_TEST(test_names_recycled_address)
{
	uint64_t sym[HS_NSYMS], pc;
	struct hs_layout l;
	struct hs_runtime rt;
	struct hs_names *c = hs_names_new();
	struct hs_code_id id;
	struct blob *b;
	char name[256];
	unsigned resolved = 0;

	symbols(sym);
	b = make_jvm();
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(hs_layout_read(local_read, NULL, sym, &l), 0);
	ck_assert_int_ge(l.nm_compile_id, 0);
	ck_assert_int_eq(hs_runtime_read(local_read, NULL, &l, &rt), 0);
	pc = (uintptr_t)heap_mem + (4 << SEG) + 10;
	ck_assert_int_eq(hs_code_id(local_read, NULL, &l, &rt, pc, 1, &id), 0);
	ck_assert_uint_eq(id.blob, (uintptr_t)b);
	ck_assert_int_eq(id.compile_id, 7);

	ck_assert_int_eq(hs_names_get(c, local_read, NULL, &l, &rt, 0, pc, 0, 0, name, sizeof(name),
				      &resolved), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(I)Ljava/nio/Buffer; [compiled]");
	ck_assert_uint_eq(resolved, 1);
	/* Asked again, the same code still there: from the cache. */
	ck_assert_int_eq(hs_names_get(c, local_read, NULL, &l, &rt, 0, pc, 0, 0, name, sizeof(name),
				      &resolved), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(I)Ljava/nio/Buffer; [compiled]");
	ck_assert_uint_eq(resolved, 1);

	/* Freed: the segment map marks the block free; the last name stands. */
	memset(segmap, 0xff, sizeof(segmap));
	ck_assert_int_eq(hs_code_id(local_read, NULL, &l, &rt, pc, 1, &id), -1);
	ck_assert_int_eq(hs_names_get(c, local_read, NULL, &l, &rt, 0, pc, 0, 0, name, sizeof(name),
				      &resolved), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(I)Ljava/nio/Buffer; [compiled]");
	ck_assert_uint_eq(resolved, 1);

	/* Another method compiled into the same space: a new compile id, a new name. */
	b = make_jvm();
	b->method = &m_run;
	b->compile_id = 8;
	ck_assert_int_eq(hs_names_get(c, local_read, NULL, &l, &rt, 0, pc, 0, 0, name, sizeof(name),
				      &resolved), 0);
	ck_assert_str_eq(name, "com.example.Server.run()V [compiled]");
	ck_assert_uint_eq(resolved, 2);
	ck_assert_int_eq(hs_names_get(c, local_read, NULL, &l, &rt, 0, pc, 0, 0, name, sizeof(name),
				      &resolved), 0);
	ck_assert_str_eq(name, "com.example.Server.run()V [compiled]");
	ck_assert_uint_eq(resolved, 2);

	/* Without a compile id in the layout, a blob at another address is other code too. */
	l.nm_compile_id = -1;
	ck_assert_int_eq(hs_code_id(local_read, NULL, &l, &rt, pc, 1, &id), 0);
	ck_assert_int_eq(id.compile_id, -1);
	hs_names_free(c);
}
END_TEST

/*
 * A stack taken while compile 7 (leakOne) sat at a pc, named after it was
 * freed and compile 8 (run) put there: never run's name; leakOne's when
 * the cache has it, else the frame is shown as code since freed.
 */
START_TEST(test_names_captured_compile_id)
{
	uint64_t sym[HS_NSYMS], pc;
	struct hs_layout l;
	struct hs_runtime rt;
	struct hs_names *c = hs_names_new(), *fresh = hs_names_new();
	struct blob *b;
	char name[256], freed[64];
	unsigned resolved = 0;

	symbols(sym);
	make_jvm();
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(fresh);
	ck_assert_int_eq(hs_layout_read(local_read, NULL, sym, &l), 0);
	ck_assert_int_eq(hs_runtime_read(local_read, NULL, &l, &rt), 0);
	pc = (uintptr_t)heap_mem + (4 << SEG) + 10;
	snprintf(freed, sizeof(freed), "[compiled code since freed] 0x%llx", (unsigned long long)pc);

	/* Compile 7 there: named while it is. */
	ck_assert_int_eq(hs_names_get(c, local_read, NULL, &l, &rt, 0, pc, HS_FRAME_NMETHOD_MAKE(7), 0, name, sizeof(name),
				      &resolved), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(I)Ljava/nio/Buffer; [compiled]");
	ck_assert_uint_eq(resolved, 1);

	/* Freed, and compile 8 (another method) put at the same address. */
	b = make_jvm();
	b->method = &m_run;
	b->compile_id = 8;
	/* A stack of compile 8 gets run's name... */
	ck_assert_int_eq(hs_names_get(c, local_read, NULL, &l, &rt, 0, pc, HS_FRAME_NMETHOD_MAKE(8), 0, name, sizeof(name),
				      &resolved), 0);
	ck_assert_str_eq(name, "com.example.Server.run()V [compiled]");
	ck_assert_uint_eq(resolved, 2);
	/* ... one of compile 7 still leakOne's, from the cache. */
	ck_assert_int_eq(hs_names_get(c, local_read, NULL, &l, &rt, 0, pc, HS_FRAME_NMETHOD_MAKE(7), 0, name, sizeof(name),
				      &resolved), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(I)Ljava/nio/Buffer; [compiled]");
	ck_assert_uint_eq(resolved, 2);
	/* A frame with no id taken is named by the code there now, as before. */
	ck_assert_int_eq(hs_names_get(c, local_read, NULL, &l, &rt, 0, pc, 0, 0, name, sizeof(name),
				      &resolved), 0);
	ck_assert_str_eq(name, "com.example.Server.run()V [compiled]");

	/* Compile 7 never named before it was freed: not run's name, but a marker. */
	ck_assert_int_eq(hs_names_get(fresh, local_read, NULL, &l, &rt, 0, pc, HS_FRAME_NMETHOD_MAKE(7), 0, name,
				      sizeof(name), &resolved), 0);
	ck_assert_str_eq(name, freed);
	/* Nor does naming compile 8 afterwards change that. */
	ck_assert_int_eq(hs_names_get(fresh, local_read, NULL, &l, &rt, 0, pc, HS_FRAME_NMETHOD_MAKE(8), 0, name,
				      sizeof(name), &resolved), 0);
	ck_assert_str_eq(name, "com.example.Server.run()V [compiled]");
	ck_assert_int_eq(hs_names_get(fresh, local_read, NULL, &l, &rt, 0, pc, HS_FRAME_NMETHOD_MAKE(7), 0, name,
				      sizeof(name), &resolved), 0);
	ck_assert_str_eq(name, freed);
	hs_names_free(fresh);
	hs_names_free(c);
}
END_TEST

/*
 * An interpreted frame taken while its Method* was leakOne's, named after
 * the class went and run's Method* was made at the same address: never
 * run's name; leakOne's when the cache has it, else a marker.
 */
START_TEST(test_names_reused_method)
{
	static struct method m;
	uint64_t sym[HS_NSYMS], value, taken;
	struct hs_layout l;
	struct hs_runtime rt;
	struct hs_names *c = hs_names_new(), *fresh = hs_names_new();
	char name[256], freed[96];

	symbols(sym);
	make_jvm();
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(fresh);
	ck_assert_int_eq(hs_layout_read(local_read, NULL, sym, &l), 0);
	ck_assert_int_eq(hs_runtime_read(local_read, NULL, &l, &rt), 0);
	m = m_leak;
	value = (uintptr_t)&m;
	taken = HS_FRAME_INTERP_MAKE((uintptr_t)&cm_leak);
	snprintf(freed, sizeof(freed), "[interpreted method since freed] Method* 0x%llx",
		 (unsigned long long)value);

	ck_assert_int_eq(hs_names_get(c, local_read, NULL, &l, &rt, 1, value, taken, 0, name,
				      sizeof(name), NULL), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(I)Ljava/nio/Buffer; [interpreted]");

	m = m_run; /* freed, and another method made in its place */
	ck_assert_int_eq(hs_names_get(c, local_read, NULL, &l, &rt, 1, value, taken, 0, name,
				      sizeof(name), NULL), 0);
	ck_assert_str_eq(name, "com.example.Server.leakOne(I)Ljava/nio/Buffer; [interpreted]");
	ck_assert_int_eq(hs_names_get(c, local_read, NULL, &l, &rt, 1, value,
				      HS_FRAME_INTERP_MAKE((uintptr_t)&cm_run), 0, name, sizeof(name),
				      NULL), 0);
	ck_assert_str_eq(name, "com.example.Server.run()V [interpreted]");
	/* Taken without its ConstMethod*: named by the method there now. */
	ck_assert_int_eq(hs_names_get(c, local_read, NULL, &l, &rt, 1, value, HS_FRAME_INTERP, 0,
				      name, sizeof(name), NULL), 0);
	ck_assert_str_eq(name, "com.example.Server.run()V [interpreted]");

	/* Never named before the method went: a marker, not run's name. */
	ck_assert_int_eq(hs_names_get(fresh, local_read, NULL, &l, &rt, 1, value, taken, 0, name,
				      sizeof(name), NULL), 0);
	ck_assert_str_eq(name, freed);
	hs_names_free(fresh);
	hs_names_free(c);
}
END_TEST

Suite *hotspot_suite(void)
{
	Suite *s = suite_create("hotspot");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_walk_and_names);
	tcase_add_test(tc, test_lines);
	tcase_add_test(tc, test_names_recycled_address);
	tcase_add_test(tc, test_names_captured_compile_id);
	tcase_add_test(tc, test_names_reused_method);
	suite_add_tcase(s, tc);
	return s;
}
