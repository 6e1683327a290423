/*
 * DirectChurn - N x (Unsafe.allocateMemory(SIZE), freeMemory): the
 * direct-memory path at its plainest, one mmap and one munmap each when
 * SIZE is above glibc's mmap threshold.  For bench/RESULTS.md's cost of
 * the direct-memory check.
 *
 * usage: java DirectChurn N SIZE
 */
import java.lang.reflect.Field;

public final class DirectChurn {
    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(args[0]);
        long size = Long.parseLong(args[1]);
        Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
        f.setAccessible(true);
        sun.misc.Unsafe u = (sun.misc.Unsafe) f.get(null);

        for (int i = 0; i < n; i++) {
            long a = u.allocateMemory(size);
            u.putByte(a, (byte) 1);
            u.freeMemory(a);
        }
    }
}
