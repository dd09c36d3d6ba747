"""Writers of the deliverables: SAS XPORT v5 datasets (:mod:`cdisc.output.xpt`)."""
