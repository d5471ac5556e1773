package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// This file sends a whole-table batch (Replace) without google/nftables' echo. Its AddRule
// asks the kernel to echo every new rule (NLM_F_ECHO, to learn the rule's handle): for a table
// of 100,000 rules the kernel serializes each rule back and the library reads and parses them
// all, which nft -f does not do (measured on the dense shape: about a third of the first
// apply's CPU time). A Replace never uses those handles, so the batch is built by the library
// on a recording connection, the echo flag is cleared, and the batch is sent on the Kernel's
// raw netfilter socket; the kernel's errors are reported as the library reports them.

// recordBatch returns the netlink batch (begin, the messages of queue, end; with the
// generation check when gen != 0) that google/nftables would send, without sending it.
// Errors are those of queue, and of the library's Flush ("netlink transaction rejected").
func recordBatch(queue func(*nftables.Conn) error, gen uint32) ([]netlink.Message, error) {
	var batch []netlink.Message
	rec, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		batch = append(batch, req...)
		return nil, nil
	}))
	if err != nil {
		return nil, err
	}
	if err := queue(rec); err != nil {
		return nil, err
	}
	if gen != 0 {
		err = rec.FlushWithGenID(gen)
	} else {
		err = rec.Flush()
	}
	if err != nil {
		return nil, fmt.Errorf("netlink transaction rejected, nothing changed: %w", err)
	}
	return batch, nil
}

// sendBatch sends batch (from recordBatch) on the raw socket nl without the echo flag (in
// one sendmsg, sendMessages) and
// reads the kernel's answers: nothing when the batch committed, an error message per refused
// message otherwise. The errors are those of Kernel.flush: ErrStale for ERESTART (the
// generation moved), else "netlink transaction rejected, nothing changed: receive:
// NFT_MSG_<TYPE>: <error>" (the first error) as google/nftables words them.
func sendBatch(nl *netlink.Conn, batch []netlink.Message, gen uint32) error {
	if err := sendRaw(nl, batch); err != nil {
		return flushErr(err, gen)
	}
	return nil
}

// sendRaw is sendBatch without the wording of flushErr: the first error as the socket or the
// kernel gave it ("SendMessages: ..." when the batch did not go out).
func sendRaw(nl *netlink.Conn, batch []netlink.Message) error {
	size := 0
	for i := range batch {
		m := &batch[i]
		m.Header.Flags &^= netlink.Echo
		size += len(m.Data) + unix.NLMSG_HDRLEN
	}
	// The buffers google/nftables sizes for a batch: the whole batch must fit in one send,
	// and up to 1 KiB of answer per message may come back (nft's sizing).
	if wb, err := nl.WriteBuffer(); err == nil && wb < size {
		if err := nl.SetWriteBuffer(size); err != nil {
			return fmt.Errorf("SendMessages: %w", err)
		}
	}
	if rb, err := nl.ReadBuffer(); err == nil && rb < max(len(batch)*1024, 8192*1024) {
		_ = nl.SetReadBuffer(max(len(batch)*1024, 8192*1024))
	}
	if err := sendMessages(nl, batch); err != nil {
		return fmt.Errorf("SendMessages: %w", err)
	}
	types := make(map[uint32]netlink.HeaderType, len(batch))
	for _, m := range batch[1 : len(batch)-1] { // not the batch begin and end
		types[m.Header.Sequence] = m.Header.Type
	}
	var first error
	for {
		ready, err := readReady(nl)
		if err != nil {
			if first == nil {
				first = err
			}
			break
		}
		if !ready {
			break // the kernel answers before SendMessages returns: all is read
		}
		if _, err := nl.Receive(); err != nil && first == nil {
			first = receiveErr(types, err)
		}
	}
	return first
}

// receiveErr words err as google/nftables' flush does: "receive: NFT_MSG_<TYPE>: <err>" with
// the type of the message it answers, when it is an error of one.
func receiveErr(types map[uint32]netlink.HeaderType, err error) error {
	var op *netlink.OpError
	if errors.As(err, &op) {
		if t, ok := types[op.Sequence]; ok {
			if name := nftMsgName(t); name != "" {
				err = fmt.Errorf("%s: %w", name, op)
			}
		}
	}
	return fmt.Errorf("receive: %w", err)
}

// flushErr is Kernel.flush's wording of a batch error: ErrStale for ERESTART, ErrOutcomeUnknown
// for a socket error while reading the answers of a batch that was sent (outcomeUnknown), else
// a refusal that changed nothing.
func flushErr(err error, gen uint32) error {
	if errors.Is(err, unix.ERESTART) {
		return fmt.Errorf("generation %d: %w, nothing changed (%w)", gen, ErrStale, err)
	}
	if outcomeUnknown(err) {
		return fmt.Errorf("netlink: %w: %w", ErrOutcomeUnknown, err)
	}
	return fmt.Errorf("netlink transaction rejected, nothing changed: %w", err)
}

// outcomeUnknown reports whether err, an error of sending a batch and reading its answers,
// leaves open whether the kernel committed the batch: a socket error (a failed recvmsg or
// poll, not an error message of the kernel, which refuses the whole batch) or a timeout, once
// the batch was sent (errors of the send itself are worded "SendMessages: ..." by
// google/nftables and by sendBatch: nothing reached the kernel).
func outcomeUnknown(err error) bool {
	if strings.HasPrefix(err.Error(), "SendMessages: ") {
		return false
	}
	var se *os.SyscallError
	return errors.As(err, &se) || errors.Is(err, os.ErrDeadlineExceeded)
}

// batchSeq numbers the messages of the batches sendMessages sends (the kernel answers an
// error with the sequence number of the message it refuses).
var batchSeq atomic.Uint32

func init() { batchSeq.Store(uint32(time.Now().Unix())) } // as libmnl starts

// sendMessages is nl.SendMessages without its copies: the messages, numbered here (sequence
// numbers from batchSeq, nl's port id), are written into one buffer of the right size and sent
// in one sendmsg, as the kernel wants a batch. The error is the one nl.SendMessages gives.
func sendMessages(nl *netlink.Conn, msgs []netlink.Message) error {
	size := 0
	for _, m := range msgs {
		size += nlAlign(unix.NLMSG_HDRLEN + len(m.Data))
	}
	buf := make([]byte, size)
	off, pid := 0, nl.PID()
	for i := range msgs {
		h := &msgs[i].Header
		n := nlAlign(unix.NLMSG_HDRLEN + len(msgs[i].Data))
		h.Length, h.Sequence, h.PID = uint32(n), batchSeq.Add(1), pid
		binary.NativeEndian.PutUint32(buf[off:], h.Length)
		binary.NativeEndian.PutUint16(buf[off+4:], uint16(h.Type))
		binary.NativeEndian.PutUint16(buf[off+6:], uint16(h.Flags))
		binary.NativeEndian.PutUint32(buf[off+8:], h.Sequence)
		binary.NativeEndian.PutUint32(buf[off+12:], h.PID)
		copy(buf[off+unix.NLMSG_HDRLEN:], msgs[i].Data)
		off += n
	}
	raw, err := nl.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Write(func(fd uintptr) bool {
		serr = unix.Sendmsg(int(fd), buf, nil, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}, 0)
		return serr != unix.EAGAIN && serr != unix.EWOULDBLOCK
	}); err != nil {
		return &netlink.OpError{Op: "send-messages", Err: err}
	}
	if serr != nil {
		return &netlink.OpError{Op: "send-messages", Err: os.NewSyscallError("sendmsg", serr)}
	}
	return nil
}

// nlAlign rounds n up to the netlink alignment (4 bytes).
func nlAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// readReady reports whether nl has an answer to read, without waiting.
func readReady(nl *netlink.Conn) (bool, error) {
	raw, err := nl.SyscallConn()
	if err != nil {
		return false, fmt.Errorf("get raw conn: %w", err)
	}
	var n int
	var perr error
	if err := raw.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, perr = unix.Poll(fds, 0)
			if perr != unix.EINTR {
				break
			}
		}
	}); err != nil {
		return false, err
	}
	if perr != nil {
		return false, os.NewSyscallError("poll", perr)
	}
	return n > 0, nil
}

// nftMsgNames are the names of the nf_tables message types a batch holds.
var nftMsgNames = map[uint16]string{
	unix.NFT_MSG_NEWTABLE: "NFT_MSG_NEWTABLE", unix.NFT_MSG_DELTABLE: "NFT_MSG_DELTABLE",
	unix.NFT_MSG_NEWCHAIN: "NFT_MSG_NEWCHAIN", unix.NFT_MSG_DELCHAIN: "NFT_MSG_DELCHAIN",
	unix.NFT_MSG_NEWRULE: "NFT_MSG_NEWRULE", unix.NFT_MSG_DELRULE: "NFT_MSG_DELRULE",
	unix.NFT_MSG_NEWSET: "NFT_MSG_NEWSET", unix.NFT_MSG_DELSET: "NFT_MSG_DELSET",
	unix.NFT_MSG_NEWSETELEM: "NFT_MSG_NEWSETELEM", unix.NFT_MSG_DELSETELEM: "NFT_MSG_DELSETELEM",
	unix.NFT_MSG_NEWOBJ: "NFT_MSG_NEWOBJ", unix.NFT_MSG_DELOBJ: "NFT_MSG_DELOBJ",
	unix.NFT_MSG_NEWFLOWTABLE: "NFT_MSG_NEWFLOWTABLE", unix.NFT_MSG_DELFLOWTABLE: "NFT_MSG_DELFLOWTABLE",
}

// nftMsgName is the name of an nf_tables message type; "" for another subsystem or type.
func nftMsgName(t netlink.HeaderType) string {
	if uint16(t)>>8 != unix.NFNL_SUBSYS_NFTABLES {
		return ""
	}
	return nftMsgNames[uint16(t)&0xff]
}
