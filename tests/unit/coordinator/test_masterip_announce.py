"""The master IP is announced with gratuitous ARP when it moves (as Ganeti's arping -U), so
clients reach the new master at once."""

from __future__ import annotations

from gnt.nodes import masterip


def test_gratuitous_arp_frame() -> None:
    frame = masterip.gratuitous_arp("198.18.0.138", "aa:bb:cc:dd:ee:ff")
    mac, ip = bytes.fromhex("aabbccddeeff"), bytes([198, 18, 0, 138])
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == mac      # broadcast, from us
    assert frame[12:14] == b"\x08\x06"                            # ARP
    arp = frame[14:]
    assert arp[:8] == b"\x00\x01\x08\x00\x06\x04\x00\x01"          # Ethernet/IPv4 request
    assert arp[8:14] == mac and arp[14:18] == ip                  # sender: us, the master IP
    assert arp[18:24] == b"\x00" * 6 and arp[24:28] == ip         # target: the same IP
    assert len(frame) == 42


def test_announce_on_a_missing_device_is_harmless() -> None:
    assert masterip.announce("198.18.0.138", "no-such-netdev0") is False
