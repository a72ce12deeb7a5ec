"""spikestream.rtl"""
