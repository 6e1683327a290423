/*
 * hotspot.h - Java frames of a HotSpot JVM, read from outside through the
 * VMStructs tables that libjvm.so exports (see hotspot.c).
 *
 * The pure part works on any memory reader, so the unit tests run it on
 * tables and frames built in their own memory; the target part (hs_*
 * functions taking a session) reads a traced JVM, resident pages only.
 */
#ifndef MT_HOTSPOT_H
#define MT_HOTSPOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * A captured "pc" with this bit set is an interpreted frame: bits 0-46 are
 * its Method* (user addresses are below 2^47, so the bits above are free)
 * and bits 47-61 its bytecode index + 1 (0: unknown), read from the frame
 * at the stop since it dies with the frame.
 */
#define HS_TAG_INTERP (1ull << 62)
#define HS_INTERP_METHOD(v) ((v) & ((1ull << 47) - 1))
#define HS_INTERP_BCI(v) ((int)(((v) >> 47) & 0x7fff) - 1)
#define HS_INTERP_MAKE(method, bci)                                                                \
	(HS_TAG_INTERP | ((bci) >= 0 && (bci) < 0x7ffe ? (uint64_t)((bci) + 1) << 47 : 0) | (method))
/*
 * struct frame's obj for an interpreted frame (off is the value less the
 * tag): HS_FRAME_INTERP, or with the Method*'s ConstMethod* read at the
 * stop, HS_FRAME_INTERP_MAKE(it).  A Method* freed with its class and
 * reused by another method has another ConstMethod.
 */
#define HS_FRAME_INTERP UINT64_MAX
#define HS_FRAME_INTERP_MAKE(cm) ((1ull << 62) | (cm))
#define HS_FRAME_IS_INTERP(obj) ((obj) == HS_FRAME_INTERP || (obj) >> 62 == 1)
#define HS_FRAME_CONST_METHOD(obj) ((obj) == HS_FRAME_INTERP ? 0 : (obj) & ((1ull << 47) - 1))
/*
 * struct frame's obj for a pc in an nmethod whose compile id was read at
 * the stop: the tag and the id (off is the pc).  The id tells the code
 * there then from code compiled later into the same space.
 */
#define HS_FRAME_NMETHOD (1ull << 63)
#define HS_FRAME_NMETHOD_MAKE(id) (HS_FRAME_NMETHOD | (uint32_t)(id))
#define HS_FRAME_IS_NMETHOD(obj) ((obj) >> 32 == HS_FRAME_NMETHOD >> 32)
#define HS_FRAME_COMPILE_ID(obj) ((int64_t)(int32_t)(uint32_t)(obj))

/* Read LEN bytes of target memory at ADDR into BUF; 0, or -1 when unreadable. */
typedef int (*hs_read_fn)(void *arg, uint64_t addr, void *buf, size_t len);

/* Where libjvm.so's exported tables and their layout variables are. */
enum hs_sym {
	HS_STRUCTS,
	HS_STRUCT_TYPE_NAME,
	HS_STRUCT_FIELD_NAME,
	HS_STRUCT_IS_STATIC,
	HS_STRUCT_OFFSET,
	HS_STRUCT_ADDRESS,
	HS_STRUCT_STRIDE,
	HS_TYPES,
	HS_TYPE_NAME,
	HS_TYPE_SIZE,
	HS_TYPE_STRIDE,
	HS_INTS,
	HS_INT_NAME,
	HS_INT_VALUE,
	HS_INT_STRIDE,
	HS_NSYMS
};

extern const char *const hs_sym_names[HS_NSYMS];

/* The layout of the structures a walk and a name need, from the tables. */
struct hs_layout {
	/* Static fields: their addresses in the target. */
	uint64_t cc_heaps, cc_low, cc_high, interp_code;
	/* Field offsets and type sizes. */
	int stubq_buffer, stubq_limit;
	int ga_len, ga_data;
	int heap_memory, heap_segmap, heap_log2;
	int vs_low_boundary, vs_high_boundary;
	int hb_size, hb_used;
	int cb_name, cb_frame_size, cb_kind; /* cb_kind -1: no CodeBlob::_kind */
	int kind_nmethod;
	int nm_method;
	int nm_compile_id; /* -1: unknown, and an nmethod is told apart by its address alone */
	int m_const, m_flags;
	int cm_constants, cm_name, cm_sig;
	int cp_holder, cp_size;
	int k_name;
	int sym_length, sym_body;
	/*
	 * Scopes and lines; -1 where this JVM has no such field (JDK 17 keeps
	 * pointers, later JDKs offsets, see hotspot.c), and then compiled
	 * frames are named by their method alone, or without line numbers.
	 */
	int cb_code_begin, cb_code_offset, cb_mutable, cb_reloc_size;
	int cm_scopes_data_begin, nm_scopes_pcs, nm_deps, nm_scopes_data, nm_immutable,
		nm_metadata;
	int pcd_size, pcd_pc, pcd_scope;
	int cm_flags, cm_flags_u4, cm_code_size, cm_size, cp_source_file;
	int has_lnt;	/* ConstMethod's "has a line number table" flag; 0: unknown */
	int unsigned5;	/* compressed streams exclude the byte 0 (JDK 21 on) */
};

#define HS_HEAPS 8

/* What the JVM set up at start: where its interpreter and compiled code are. */
struct hs_runtime {
	uint64_t interp_lo, interp_hi, cc_lo, cc_hi;
	unsigned nheaps;
	struct {
		uint64_t lo, hi, segmap;
		int log2;
	} heap[HS_HEAPS];
};

/* Read the layout from the tables whose symbols are at SYM; 0 or -errno. */
int hs_layout_read(hs_read_fn rd, void *arg, const uint64_t sym[HS_NSYMS], struct hs_layout *l);
/* Read the runtime ranges; 0, or -EAGAIN while the JVM has not made them yet. */
int hs_runtime_read(hs_read_fn rd, void *arg, const struct hs_layout *l, struct hs_runtime *rt);

/* Is PC in the JVM's code (interpreter, stubs, compiled methods)? */
int hs_in_code(const struct hs_runtime *rt, uint64_t pc);

/*
 * Walk Java frames from the frame at *PC with stack pointer *SP and frame
 * pointer *FP (the values this frame holds, as an unwinder recovers them).
 * Writes up to MAX entries to OUT: an interpreted frame as HS_TAG_INTERP |
 * its Method*, any other as its pc; IDS (may be NULL) gets for each entry
 * what tells its code from code later put in the same place, as struct
 * frame's obj keeps it: HS_FRAME_NMETHOD_MAKE() of the compile id of the
 * nmethod a pc is in (read from the header the frame size comes from),
 * HS_FRAME_INTERP_MAKE() of an interpreted frame's ConstMethod*, or 0
 * (a stub, or nothing read).
 * Stops at the first pc outside the JVM's code and leaves there the frame
 * it found (*PC 0: the walk failed).  Returns the number of entries written.
 */
unsigned hs_walk(hs_read_fn rd, void *arg, const struct hs_layout *l, const struct hs_runtime *rt,
		 uint64_t *pc, uint64_t *sp, uint64_t *fp, uint64_t *out, uint64_t *ids,
		 unsigned max);

/* Name the Java method at METHOD: "pkg.Class.name(Sig)Ret" into BUF; 0 or -1. */
int hs_method_name(hs_read_fn rd, void *arg, const struct hs_layout *l, uint64_t method,
		   char *buf, size_t size);

/*
 * Name the Java frame of METHOD at bytecode index BCI (-1: unknown) as Java
 * prints it: "pkg.Class.name(File.java:NN)" where the method has a line
 * number table, "pkg.Class.name(Native Method)" for a native one, else
 * "pkg.Class.name(Sig)Ret"; 0 or -1.
 */
int hs_frame_text(hs_read_fn rd, void *arg, const struct hs_layout *l, uint64_t method, int bci,
		  char *buf, size_t size);

/*
 * Name the code at PC: a compiled method as its Java frames, innermost
 * first, one a line: the methods inlined at PC (" [inlined]"), found
 * through the nmethod's PcDesc for PC (EXACT: PC is a return address and
 * has its own PcDesc; else the nearest one after it) and its scope chain,
 * then the method compiled (" [compiled]"; " [native]" for a native
 * method's wrapper), each with its line as hs_frame_text() has it;
 * anything else in the code cache by the JVM's name for it and " [stub]";
 * 0 or -1.
 */
int hs_code_name(hs_read_fn rd, void *arg, const struct hs_layout *l, const struct hs_runtime *rt,
		 uint64_t pc, int exact, char *buf, size_t size);

/*
 * What the code at PC is now: the address of its CodeBlob and, for an
 * nmethod, its compile id (-1 otherwise).  The code cache reuses the
 * space of code it frees, so one address may hold several methods in
 * turn; each compilation has an id of its own.  0, or -1 when PC is in no
 * blob (free space) or cannot be read.
 */
struct hs_code_id {
	uint64_t blob;
	int64_t compile_id;
};
int hs_code_id(hs_read_fn rd, void *arg, const struct hs_layout *l, const struct hs_runtime *rt,
	       uint64_t pc, int exact, struct hs_code_id *id);

/*
 * Names already found, per JVM: an interpreted frame's by its Method* and
 * bci, a pc's by the pc and the hs_code_id() of the code there when it
 * was named.  A name is reused only while that code is still there; code
 * that has since been freed and replaced is named again, and the old name
 * is kept beside the new.  Where the code cannot be read any more (the JVM
 * exited, the space is free), the last name found stands.
 */
struct hs_names;
struct hs_names *hs_names_new(void);
void hs_names_free(struct hs_names *c);
/*
 * Name a frame as hs_frame_name() does, from cache C or by reading the
 * JVM through RD; 0 when named, -1 otherwise.  RESOLVED (may be NULL)
 * counts the names read from the JVM rather than the cache.  OBJ is the
 * frame's struct frame obj, as the stack was taken: for a pc in an
 * nmethod whose compile id was read then, the name of that compilation,
 * from the cache or while it is still there, and if other code has taken
 * its place since, not that code's name but "[compiled code since freed]
 * 0xPC"; for an interpreted frame whose ConstMethod* was read, likewise,
 * "[interpreted method since freed] Method* 0xADDR" once its Method* holds
 * another.
 */
int hs_names_get(struct hs_names *c, hs_read_fn rd, void *arg, const struct hs_layout *l,
		 const struct hs_runtime *rt, int interp, uint64_t value, uint64_t obj, int first,
		 char *buf, size_t size, unsigned *resolved);

/* The target side: one traced JVM (hotspot.c). */
struct mt_session;
struct hs_target;

/* The JVM in process PID, if the snapshot has a libjvm.so; tracer thread. */
struct hs_target *hs_target_get(struct mt_session *s, pid_t pid);
/*
 * Walk Java frames of a stopped thread of T's process, as hs_walk() does,
 * reading its memory through RD (resident pages only) or, when RD is NULL,
 * through T's own page cache.
 */
unsigned hs_target_walk(struct hs_target *t, hs_read_fn rd, void *arg, uint64_t *pc,
			uint64_t *sp, uint64_t *fp, uint64_t *out, uint64_t *ids, unsigned max);
/* Is PC in T's code?  T may be NULL. */
int hs_target_in_code(const struct hs_target *t, uint64_t pc);
/*
 * Name a frame at query time: an interpreted one (INTERP, VALUE its
 * Method* and bci as HS_INTERP_MAKE() packs them) or a pc, which may name
 * several frames, one a line (hs_code_name()), with OBJ as
 * hs_names_get() takes it; names are cached per JVM.  0 when named, -1
 * otherwise.
 */
int hs_frame_name(struct mt_session *s, int interp, uint64_t value, uint64_t obj, int first,
		  char *buf, size_t size);
/* Whether a JVM of process PID is read from its structures (any thread). */
int hs_readable(struct mt_session *s, pid_t pid);
/* Forget every JVM of S. */
void hs_free_all(struct mt_session *s);

#endif
