/*
 * EchoServer - the Netty 4.1 echo server bench/netty-echo puts under load.
 * Compiled at bench time against Debian's libnetty-java (netty-buffer,
 * netty-common, netty-transport, netty-resolver).
 *
 * usage: java -cp JARS:DIR EchoServer PORTFILE
 *
 * A NIO server on 127.0.0.1, port chosen by the kernel: one acceptor
 * thread, two event-loop threads, every channel on the pooled allocator
 * preferring direct buffers (Netty's default, made explicit here).  Each
 * read is written back as it came and flushed when the read burst ends.
 * Once listening it writes "PORT PID\n" to PORTFILE.tmp and renames it to
 * PORTFILE, so a reader never sees half a line.  It runs until killed.
 */
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;

import java.io.File;
import java.io.FileWriter;
import java.net.InetSocketAddress;

public final class EchoServer {
    @ChannelHandler.Sharable
    static final class Echo extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    public static void main(String[] args) throws Exception {
        PooledByteBufAllocator alloc = new PooledByteBufAllocator(true);
        EventLoopGroup boss = new NioEventLoopGroup(1);
        EventLoopGroup workers = new NioEventLoopGroup(2);
        Echo echo = new Echo();
        ServerBootstrap b = new ServerBootstrap()
                .group(boss, workers)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 128)
                .childOption(ChannelOption.ALLOCATOR, alloc)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(echo);
                    }
                });
        Channel server = b.bind("127.0.0.1", 0).sync().channel();
        int port = ((InetSocketAddress) server.localAddress()).getPort();
        File tmp = new File(args[0] + ".tmp");
        try (FileWriter w = new FileWriter(tmp)) {
            w.write(port + " " + ProcessHandle.current().pid() + "\n");
        }
        if (!tmp.renameTo(new File(args[0])))
            throw new IllegalStateException("cannot rename " + tmp);
        server.closeFuture().sync();
    }
}
