"""A synthetic intelligence-sharing scenario for ``tearline demo``.

:func:`tearline.demo.scenario.build_scenario` makes partners, protected human sources and a few
thousand labelled STIX 2.1 objects (campaigns, indicators, reports, ...) deterministically from a seed,
without I/O, so a demo node can show what each partner receives before and after a scale-back.
Every name, address and number in it is invented; IP addresses, domains, e-mail addresses and
telephone numbers come from documentation or fiction ranges.
"""
