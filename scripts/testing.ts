/**
 * nodevoy/testing: today the same as {@link "nodevoy/devhost"} (startFilter runs a filter in the
 * dev host). Use `nodevoy/devhost`; this entry will become a plain-Node testing kit.
 *
 * @packageDocumentation
 */
export * from './devhost.js'
