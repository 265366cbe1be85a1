"""procnet.parse_packet, parse_netlink, parse_ifnames and tables_for."""

from gdb_sockets.model import NetlinkAddress, PacketAddress, Socket
from gdb_sockets.kernel.procnet import parse_ifnames, parse_netlink, parse_packet, tables_for

from sampledata import SOCKETS, inode, sample


def test_packet_header_only_table_has_no_rows():
    assert parse_packet(sample("packet_header_only"), {1: "lo"}) == {}


def test_packet_eth_p_all_unbound():
    rows = parse_packet(sample("packet"), {1: "lo"})
    ino = inode("packet", "eth_p_all")
    assert rows[ino] == Socket(
        fd=-1, inode=ino, proto="packet", state="UNCONN", recv_q=0, send_q=None,
        local=PacketAddress(0x0003, 0, None), type="raw", uid=0)


def test_packet_bound_to_lo_for_ipv4():
    rows = parse_packet(sample("packet"), {1: "lo"})
    ino = inode("packet", "ip_on_lo")
    assert rows[ino] == Socket(
        fd=-1, inode=ino, proto="packet", state="UNCONN", recv_q=0, send_q=None,
        local=PacketAddress(0x0800, SOCKETS["packet"]["lo_ifindex"], "lo"),
        type="dgram", uid=0)


def test_packet_interface_without_a_known_name():
    rows = parse_packet(sample("packet"), {})
    assert rows[inode("packet", "ip_on_lo")].local == PacketAddress(0x0800, 1, None)


def test_packet_wanted_inodes_drop_other_rows():
    ino = inode("packet", "ip_on_lo")
    assert list(parse_packet(sample("packet"), {1: "lo"}, wanted={ino})) == [ino]


def test_netlink_header_only_table_has_no_rows():
    assert parse_netlink(sample("netlink_header_only")) == {}


def test_netlink_route_socket_with_chosen_port_id():
    rows = parse_netlink(sample("netlink"))
    ino = inode("netlink", "route")
    assert rows[ino] == Socket(
        fd=-1, inode=ino, proto="netlink", state="UNCONN", recv_q=0, send_q=0,
        local=NetlinkAddress(0, 4242))


def test_netlink_sock_diag_socket_with_autobound_port_id():
    rows = parse_netlink(sample("netlink"))
    assert rows[inode("netlink", "diag")].local == NetlinkAddress(
        4, SOCKETS["netlink"]["diag_portid"])


def test_netlink_untrimmed_table_also_holds_the_kernel_rows():
    # Ours two, and the kernel's pid-0 sockets of protocols 0 4 6 9 10 12 15 16.
    assert len(parse_netlink(sample("netlink"))) == 10


def test_netlink_wanted_inodes_drop_the_kernel_rows():
    ours = {inode("netlink", "route"), inode("netlink", "diag")}
    assert set(parse_netlink(sample("netlink"), wanted=ours)) == ours


def test_ifnames_from_all_three_files():
    names = parse_ifnames(igmp=sample("ifnames_igmp"), if_inet6=sample("ifnames_if_inet6"),
                          dev_mcast=sample("ifnames_dev_mcast"))
    expected = {index: name for name, index in SOCKETS["ifnames"].items()}
    assert names == expected == {1: "lo", 2: "gs-v1", 3: "gs-v0", 4: "gs-br0"}


def test_ifnames_from_igmp_skip_group_lines():
    assert parse_ifnames(igmp=sample("ifnames_igmp")) == {1: "lo", 2: "gs-v1", 3: "gs-v0"}


def test_ifnames_from_if_inet6():
    assert parse_ifnames(if_inet6=sample("ifnames_if_inet6")) == {
        1: "lo", 2: "gs-v1", 3: "gs-v0"}


def test_ifnames_from_dev_mcast_name_a_down_interface():
    assert parse_ifnames(dev_mcast=sample("ifnames_dev_mcast")) == {
        2: "gs-v1", 3: "gs-v0", 4: "gs-br0"}


def test_tables_for_maps_protocols_to_tables_in_stable_order():
    assert tables_for({"unix", "ping6", "tcp", "netlink", "udp6"}) == [
        "tcp", "udp6", "icmp6", "unix", "netlink"]


def test_tables_for_ignores_protocols_with_no_table():
    assert tables_for({"unknown", "vsock"}) == []
